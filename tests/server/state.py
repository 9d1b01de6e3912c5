"""What a daemon holds, as seen through the API: compared before and after a rejected call."""

from __future__ import annotations

from typing import Any

from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon

QUIET = (
    "--sweep-interval-s",
    "0",
    "--lifecycle-interval-s",
    "0",
    "--lifecycle-capacity-check-s",
    "0",
)
"""Flags that stop background jobs, so only requests change a daemon's state."""


def snapshot(d: Daemon, listed: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """ListNamespaces, Stats and every memory of the ``listed`` namespaces.

    Reads change hit and miss counters, and LMDB may reuse pages, so those are left
    out; everything a request could wrongly change stays in, including each listed
    memory's access count and last access time. Memories with a TTL are left out of
    the listing: they may expire between two snapshots on their own.
    """
    names = list(d.stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces)
    stats = d.stub.Stats(pb.StatsRequest())
    stats.ClearField("map_used_bytes")
    for ns in stats.namespaces:
        ns.ClearField("misses")
        for tier in ns.tiers:
            tier.ClearField("counters")
    memories = {ns: list_all(d, ns) for ns in listed}
    return names, stats.SerializeToString(deterministic=True), memories


def list_all(d: Daemon, namespace: str) -> list[bytes]:
    """Every live memory of ``namespace`` without a TTL, serialized, in key order."""
    out: list[bytes] = []
    token = ""
    while True:
        page = d.stub.List(pb.ListRequest(namespace=namespace, page_size=1000, page_token=token))
        lasting = [m for m in page.memories if not m.expires_at_ms]
        out += [m.SerializeToString(deterministic=True) for m in lasting]
        token = page.next_page_token
        if not token:
            return out
