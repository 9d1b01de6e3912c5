"""The ``memd`` command line: ``memd serve`` runs the daemon.

Exit codes: 0 after a clean stop, 1 when the daemon cannot start (address in use, data
directory unusable), 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from types import FrameType

from memd.auth.cli import add_token_commands
from memd.config import Config, ConfigError, add_arguments, load_config
from memd.errors import MemdError
from memd.logs import event, setup_logging
from memd.server.app import StartupError, create_server

log = logging.getLogger("memd.cli")

_SERVE_HELP = """\
Run the memd daemon: gRPC (memd.v1.MemoryService, health, reflection) on every --listen
address, Prometheus metrics on --metrics-listen, an embedded LMDB store in --data-dir.

Configuration precedence, highest first: flags > MEMD_* environment variables > the TOML
file (--config or MEMD_CONFIG) > defaults. Each option's TOML key is its flag without
the leading dashes, with '-' read as '_' and table prefixes as sections, e.g.
--tiers-working-capacity is [tiers.working] capacity, env MEMD_TIERS_WORKING_CAPACITY.
Sizes accept binary suffixes (16MiB, 64GiB).

SIGTERM or SIGINT drains: health turns NOT_SERVING, streams end after their last
acknowledged batch, in-flight RPCs get --grace-s seconds, then the store is flushed and
closed.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``memd`` parser with its ``serve`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="memd", description="memd: a memory daemon for AI agents."
    )
    parser.add_argument("--version", action="version", version=f"memd {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the daemon",
        description=_SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved configuration as JSON and exit",
    )
    add_arguments(serve)
    add_token_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``memd`` script.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns:
        The process exit code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)  # the commands other than serve
    if run is not None:
        return int(run(args))
    try:
        cfg = load_config(args)
    except ConfigError as exc:
        parser.exit(2, f"memd: error: {exc}\n")
    if args.print_config:
        print(cfg.to_json())
        return 0
    return _serve(cfg)


def _serve(cfg: Config) -> int:
    setup_logging(cfg.log_level, cfg.log_format)
    try:
        server, _ports = create_server(cfg)
        server.start()
    except (StartupError, MemdError, OSError) as exc:
        event(log, logging.ERROR, "startup failed", error=str(exc))
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            event(log, logging.WARNING, "already stopping", signal=signal.Signals(signum).name)
        else:
            event(log, logging.INFO, "signal", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Event.wait() in the main thread wakes for signals, so the handler runs promptly.
    while not stop.wait(3600):
        pass
    server.stop()
    return 0


def _version() -> str:
    try:
        return version("memd")
    except PackageNotFoundError:
        return "0+unknown"


if __name__ == "__main__":
    sys.exit(main())
