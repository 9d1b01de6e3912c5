"""The gRPC channel of memd's client commands (``memd token``, ``memd health``).

One set of connection flags, so every command that talks to a running daemon is
pointed at it, and trusts it, the same way.
"""

from __future__ import annotations

import argparse
import os

import grpc

DEFAULT_TARGET = "127.0.0.1:50051"


def connection_arguments() -> argparse.ArgumentParser:
    """A parent parser with ``--target``, ``--ca``, ``--cert`` and ``--key``.

    Pass it as ``parents=[...]`` to a subcommand's parser.
    """
    conn = argparse.ArgumentParser(add_help=False)
    conn.add_argument(
        "--target",
        default=os.environ.get("MEMD_TARGET", DEFAULT_TARGET),
        help=f"daemon address, host:port or unix:///path.sock (env MEMD_TARGET; "
        f"default {DEFAULT_TARGET})",
    )
    conn.add_argument("--ca", default="", help="CA certificate (PEM) to verify a TLS daemon")
    conn.add_argument("--cert", default="", help="client certificate (PEM) for mutual TLS")
    conn.add_argument("--key", default="", help="client key (PEM) for mutual TLS")
    return conn


def open_channel(args: argparse.Namespace) -> grpc.Channel:
    """A channel to ``args.target``: TLS when ``--ca`` or ``--cert`` is given.

    Raises:
        OSError: A certificate or key file cannot be read.
    """
    if not (args.ca or args.cert):
        return grpc.insecure_channel(args.target)
    ca, key, cert = (_read(path) for path in (args.ca, args.key, args.cert))
    return grpc.secure_channel(args.target, grpc.ssl_channel_credentials(ca, key, cert))


def _read(path: str) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as fh:
        return fh.read()
