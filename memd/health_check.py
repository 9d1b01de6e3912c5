"""``memd health``: is a daemon serving? The probe of the container image and systemd.

A gRPC health check (``grpc.health.v1.Health/Check``) of a running daemon, answered
by one line and an exit code, so a container HEALTHCHECK, a Kubernetes exec probe or a
script needs no grpcurl or grpc_health_probe. The health service needs no token even
when the daemon requires them, so the command takes none.

Exit codes: 0 when the service is SERVING; 1 when it is not (NOT_SERVING while the
daemon drains, SERVICE_UNKNOWN), or the daemon is unreachable or did not answer within
``--timeout``; 2 for a usage error (an unreadable certificate file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from memd.client_channel import connection_arguments, open_channel

_SERVING = health_pb2.HealthCheckResponse.SERVING


def add_health_command(commands: Any) -> None:
    """Add ``memd health`` to the ``memd`` subcommands."""
    health = commands.add_parser(
        "health",
        parents=[connection_arguments()],
        help="check that a daemon is serving (exit 0) or not (exit 1)",
        description="Ask a running daemon's gRPC health service whether it is serving. "
        "Prints one line. Exit codes: 0 SERVING; 1 not serving, unreachable or no answer "
        "within --timeout; 2 usage error.",
    )
    health.add_argument(
        "--service",
        default="",
        help='service to check: "" (the daemon as a whole, the default) or memd.v1.MemoryService',
    )
    health.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="give up after this long (default 5)",
    )
    health.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``memd health``; returns the exit code."""
    what = f"{args.target} {args.service or '(server)'}"
    try:
        channel = open_channel(args)
    except OSError as exc:
        print(f"memd health: {exc}", file=sys.stderr)
        return 2
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as exc:
            # One line: grpc's details for an unreachable address can span several.
            details = " ".join(str(exc.details()).split())
            print(f"{what}: {exc.code().name}: {details}")
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{what}: {status}")
    return 0 if reply.status == _SERVING else 1
