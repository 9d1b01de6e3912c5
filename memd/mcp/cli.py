"""``memd mcp``: serve memd's memory tools to an MCP host, over stdio or Streamable HTTP.

The command is a proxy: each tool call becomes one gRPC call to a running daemon
(``--target`` and the TLS flags of ``memd token``/``memd health``), with the token
from ``MEMD_TOKEN`` or ``--token-file`` (never a flag: command lines are visible to
every user of the machine). It needs the optional ``mcp`` extra
(``pip install 'memd-daemon[mcp]'``); this module imports the SDK only when run.

Exit codes: 0 after the host closed stdio or the HTTP server was stopped (SIGINT or
SIGTERM); 2 for a usage error (no namespace, a bad flag combination, an unreadable
token or certificate file, the extra not installed).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from memd.client_channel import connection_arguments, open_channel
from memd.config_parse import ConfigError, boolean, choice, float_in, int_in
from memd.server.security import is_loopback

DEFAULT_PORT = 8765
_DESCRIPTION = """\
Serve memd's memory tools (remember, recall, search, list_recent, forget) to an MCP
host. Each call is one gRPC call to the daemon at --target. The namespace is fixed by
--namespace unless --allow-namespace-arg lets the model choose one (optionally only
under --namespace-prefix). The token comes from MEMD_TOKEN or --token-file.

stdio (the default) is for a host that starts this command itself; --transport http
serves Streamable HTTP at http://HOST:PORT/mcp (loopback only: the endpoint has no
authentication of its own and acts with the daemon token). Exit codes: 0 when stopped,
2 usage error.
"""


def add_mcp_command(commands: Any) -> None:
    """Add ``memd mcp`` to the ``memd`` subcommands."""
    env = os.environ.get
    cmd = commands.add_parser(
        "mcp",
        parents=[connection_arguments()],
        help="serve the memory tools to an MCP host (stdio or Streamable HTTP)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "--namespace",
        default=env("MEMD_MCP_NAMESPACE", ""),
        metavar="NS",
        help="the namespace every call acts on; with --allow-namespace-arg, the default "
        "(env MEMD_MCP_NAMESPACE)",
    )
    cmd.add_argument(
        "--allow-namespace-arg",
        action="store_true",
        default=None,  # unset: MEMD_MCP_ALLOW_NAMESPACE_ARG, read by _check
        help="give each tool a namespace argument the model may set "
        "(env MEMD_MCP_ALLOW_NAMESPACE_ARG=true)",
    )
    cmd.add_argument(
        "--namespace-prefix",
        default=env("MEMD_MCP_NAMESPACE_PREFIX", ""),
        metavar="PREFIX",
        help="with --allow-namespace-arg: only namespaces starting with this "
        "(env MEMD_MCP_NAMESPACE_PREFIX)",
    )
    cmd.add_argument(
        "--token-file",
        default=env("MEMD_TOKEN_FILE", ""),
        metavar="PATH",
        help="file holding the daemon token (env MEMD_TOKEN_FILE; or the token itself "
        "in env MEMD_TOKEN)",
    )
    cmd.add_argument(
        "--transport",
        type=choice("stdio", "http"),
        default=env("MEMD_MCP_TRANSPORT", "stdio"),
        metavar="{stdio,http}",
        help="stdio (default) or http (Streamable HTTP) (env MEMD_MCP_TRANSPORT)",
    )
    cmd.add_argument(
        "--host",
        default=env("MEMD_MCP_HOST", "127.0.0.1"),
        help="http: address to listen on, loopback only (default 127.0.0.1; env MEMD_MCP_HOST)",
    )
    cmd.add_argument(
        "--port",
        type=int_in(0, 65535),
        default=env("MEMD_MCP_PORT", str(DEFAULT_PORT)),
        help=f"http: port, 0 for any free one (default {DEFAULT_PORT}; env MEMD_MCP_PORT)",
    )
    cmd.add_argument(
        "--timeout",
        type=float_in(0.001),
        default=30.0,
        metavar="SECONDS",
        help="deadline of each daemon call (default 30)",
    )
    cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``memd mcp`` until the host goes away or a signal stops it."""
    try:
        _check(args)
        token = _token(args)
        channel = open_channel(args)
    except (ConfigError, OSError) as exc:
        print(f"memd mcp: error: {exc}", file=sys.stderr)
        return 2
    try:
        import anyio

        from memd.mcp.daemon import DaemonLink
        from memd.mcp.server import NamespacePolicy, build_server, serve_http, serve_stdio
    except ModuleNotFoundError as exc:
        channel.close()
        print(
            f"memd mcp: error: {exc.name} is not installed; memd mcp needs the mcp extra: "
            "pip install 'memd-daemon[mcp]'",
            file=sys.stderr,
        )
        return 2
    link = DaemonLink(channel, token, args.timeout)
    policy = NamespacePolicy(args.namespace, args.allow_namespace_arg, args.namespace_prefix)
    server = build_server(link, policy)
    try:
        if args.transport == "stdio":
            anyio.run(serve_stdio, server)
        else:
            anyio.run(serve_http, server, args.host, args.port, _announce)
    finally:
        link.close()
    return 0


def _check(args: argparse.Namespace) -> None:
    if args.allow_namespace_arg is None:
        raw = os.environ.get("MEMD_MCP_ALLOW_NAMESPACE_ARG", "false")
        try:
            args.allow_namespace_arg = boolean(raw)
        except ConfigError as exc:
            raise ConfigError(f"MEMD_MCP_ALLOW_NAMESPACE_ARG: {exc}") from None
    if not args.namespace and not args.allow_namespace_arg:
        raise ConfigError("--namespace (or MEMD_MCP_NAMESPACE) is required")
    if args.namespace_prefix and not args.allow_namespace_arg:
        raise ConfigError("--namespace-prefix applies only with --allow-namespace-arg")
    if args.namespace and not args.namespace.startswith(args.namespace_prefix):
        raise ConfigError(
            f"--namespace {args.namespace!r} does not start with --namespace-prefix "
            f"{args.namespace_prefix!r}"
        )
    if args.transport == "http" and not is_loopback(f"{args.host}:{args.port}"):
        raise ConfigError(
            f"--host {args.host!r} is not a loopback address: the MCP endpoint has no "
            "authentication of its own and would act with the daemon token for anyone "
            "who reaches it"
        )


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as fh:
            return fh.read().strip()
    return os.environ.get("MEMD_TOKEN", "").strip()


def _announce(url: str) -> None:
    print(f"memd mcp: serving MCP (Streamable HTTP) at {url}", file=sys.stderr, flush=True)
