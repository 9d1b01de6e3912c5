"""``memd cluster drain``: drain a running cluster node, or put it back into service.

A gRPC client of ``ClusterService/Drain`` (any node: it forwards to the node named).
It needs a token with ADMIN on "*" when the daemon checks tokens. With ``--wait`` it
then reads the placement map until no partition names the node as owner and every
partition has a live owner again, so a script can stop the node right after.

Exit codes: 0 on success, 1 when the daemon refused, could not be reached or the wait
ran out, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import grpc

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import cluster_service_pb2_grpc as cpb_grpc
from memd.client_channel import connection_arguments, open_channel


def add_cluster_commands(commands: Any) -> None:
    """Add ``memd cluster drain`` to the ``memd`` subcommands."""
    cluster = commands.add_parser("cluster", help="cluster administration (docs/cluster.md)")
    verbs = cluster.add_subparsers(dest="verb", required=True, metavar="VERB")
    drain = verbs.add_parser(
        "drain",
        parents=[connection_arguments()],
        help="move a node's partitions away without stopping it (or --resume it)",
    )
    drain.add_argument("--node", default="", help="node id to drain (default: the --target node)")
    drain.add_argument("--resume", action="store_true", help="undo a drain")
    drain.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to wait for the moves (0: none)",
    )
    drain.add_argument(
        "--token", default=os.environ.get("MEMD_TOKEN", ""), help="an admin token (env MEMD_TOKEN)"
    )
    cluster.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``memd cluster drain``."""
    try:
        channel = open_channel(args)
    except OSError as exc:
        print(f"memd cluster: {exc}", file=sys.stderr)
        return 2
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    with channel:
        stub = cpb_grpc.ClusterServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            reply = stub.Drain(
                cpb.DrainRequest(node_id=args.node, resume=args.resume),
                metadata=metadata,
                timeout=30,
            )
            print(
                f"{reply.node_id}: {'drained' if reply.draining else 'in service'}, "
                f"{reply.released} partitions handed over"
            )
            if reply.draining and args.wait > 0 and not _moved(stub, reply.node_id, args, metadata):
                print(f"memd cluster: partitions still moving after {args.wait} s", file=sys.stderr)
                return 1
        except grpc.RpcError as exc:
            print(f"memd cluster: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    return 0


def _moved(stub: Any, node_id: str, args: argparse.Namespace, metadata: Any) -> bool:
    """Wait until ``node_id`` owns nothing and every partition has a live owner."""
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        placement = stub.Cluster(cpb.ClusterRequest(), metadata=metadata, timeout=10)
        now_ms = time.time() * 1000
        if all(
            p.owner and p.owner != node_id and p.lease_until_ms > now_ms
            for p in placement.partitions
        ):
            return True
        time.sleep(0.2)
    return False
