"""The ``memd`` command line: ``memd serve`` runs the daemon.

The other commands: ``memd health`` (memd.health_check), ``memd token`` (memd.auth.cli),
``memd restore`` and ``memd verify`` (memd.restore), ``memd export`` and ``memd import``
(memd.history.cli).

Exit codes of ``memd serve``: 0 after a clean stop, 1 when the daemon cannot start
(address in use, data directory unusable), 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from memd import restore as offline
from memd.auth.cli import add_token_commands
from memd.cluster.cli import add_cluster_commands
from memd.config import Config, ConfigError, add_arguments, load_config
from memd.errors import MemdError
from memd.health_check import add_health_command
from memd.history.cli import add_history_commands
from memd.logs import event, setup_logging
from memd.mcp.cli import add_mcp_command
from memd.server.app import StartupError, create_server
from memd.version import memd_version

log = logging.getLogger("memd.cli")

_SERVE_HELP = """\
Run the memd daemon: gRPC (memd.v1.MemoryService, health, reflection) on every --listen
address, Prometheus metrics on --metrics-listen, an embedded LMDB store in --data-dir.

Configuration precedence, highest first: flags > MEMD_* environment variables > the TOML
file (--config or MEMD_CONFIG) > defaults. Each option's TOML key is its flag without
the leading dashes, with '-' read as '_' and table prefixes as sections, e.g.
--tiers-working-capacity is [tiers.working] capacity, env MEMD_TIERS_WORKING_CAPACITY.
Sizes accept binary suffixes (16MiB, 64GiB). docs/examples/memd.toml has every option at
its default.

SIGTERM or SIGINT drains: health turns NOT_SERVING, streams end after their last
acknowledged batch, in-flight RPCs get --grace-s seconds, then the store is flushed and
closed.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``memd`` parser with its ``serve`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="memd", description="memd: a memory daemon for AI agents."
    )
    parser.add_argument("--version", action="version", version=f"memd {memd_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the daemon",
        # The generated usage would list all ~50 flags; they are listed by topic below.
        usage="memd serve [--config PATH] [--print-config] [OPTION ...]",
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
    add_cluster_commands(commands)
    add_health_command(commands)
    add_mcp_command(commands)
    add_history_commands(commands)
    _add_offline_commands(commands)
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


def _add_offline_commands(commands: Any) -> None:
    """``memd restore`` and ``memd verify`` (no daemon: they work on a data directory)."""
    restore = commands.add_parser(
        "restore",
        help="make a data directory from a backup, verified",
        description="Copy BACKUP (a directory written by the Backup RPC) into DATA_DIR, a new "
        "or empty directory no daemon uses, and verify it; a copy that fails the check is "
        "not restored. Exit codes: 0 restored, 1 the backup failed the check (nothing was "
        "restored), 2 usage error (no backup there, DATA_DIR not empty or in use).",
    )
    restore.add_argument("backup", metavar="BACKUP", help="backup directory (or its data.mdb)")
    restore.add_argument("data_dir", metavar="DATA_DIR", help="new or empty data directory")
    restore.set_defaults(run=_run_restore)
    verify = commands.add_parser(
        "verify",
        help="check a data directory's integrity",
        description="Open the store in DATA_DIR (no daemon may be using it), decode every "
        "record, check every index against the records, and print counts and problems. "
        "Exit codes: 0 healthy, 1 problems found, 2 usage error (no store in DATA_DIR, or "
        "it is in use).",
    )
    verify.add_argument("data_dir", metavar="DATA_DIR", help="the data directory")
    verify.set_defaults(run=_run_verify)


def _run_restore(args: argparse.Namespace) -> int:
    try:
        check = offline.restore(args.backup, args.data_dir)
    except (MemdError, OSError) as exc:
        print(f"memd restore: error: {exc}", file=sys.stderr)
        return 2
    print(check.render())
    if check.problems:
        print(
            f"memd restore: {args.backup} failed the check; nothing was restored", file=sys.stderr
        )
        return 1
    print(f"restored {args.backup} into {args.data_dir}")
    return 0


def _run_verify(args: argparse.Namespace) -> int:
    try:
        check = offline.verify(args.data_dir)
    except MemdError as exc:
        print(f"memd verify: error: {exc}", file=sys.stderr)
        return 2
    print(check.render())
    return 1 if check.problems else 0


if __name__ == "__main__":
    sys.exit(main())
