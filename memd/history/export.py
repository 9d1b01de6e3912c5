"""``memd export``: the memories of a running daemon as JSON Lines (``memd.history.jsonl``).

It pages through ``List`` (1 000 memories a page, embeddings included, no access
counted, so exporting changes nothing) namespace by namespace in byte order, and each
namespace in key order: the same memories always give the same file. It is not a
snapshot: writes during the export may or may not be in it (``Backup`` is the
consistent copy). Every namespace needs ``--namespace`` or, to export all of them,
a token with ADMIN on ``*`` (``ListNamespaces``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import grpc

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.history.jsonl import encode
from memd.history.progress import Mode, Progress

PAGE_SIZE = 1_000
"""Memories per List page: the server's largest."""

Metadata = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ExportFilter:
    """Which memories to export; empty fields restrict nothing.

    Attributes:
        namespaces: These namespaces only; empty: every namespace (needs ADMIN).
        tiers: Only memories in these tiers (``Tier`` numbers).
        created_after_ms: Only memories created at or after this time (ms since epoch).
        created_before_ms: Only memories created before this time.
    """

    namespaces: Sequence[str] = ()
    tiers: frozenset[int] = field(default_factory=frozenset)
    created_after_ms: int = 0
    created_before_ms: int = 0


def export(
    stub: Any,
    out: TextIO,
    flt: ExportFilter,
    *,
    metadata: Metadata = (),
    progress: Mode = "auto",
    timeout: float = 60.0,
) -> int:
    """Write every memory ``flt`` selects to ``out``, one line each; returns how many.

    Raises:
        grpc.RpcError: The daemon refused or could not be reached.
    """
    namespaces = sorted(set(flt.namespaces))
    if not namespaces:
        reply = stub.ListNamespaces(pb.ListNamespacesRequest(), metadata=metadata, timeout=timeout)
        namespaces = list(reply.namespaces)
    # Stats of "" is every namespace at once.
    counted = namespaces if flt.namespaces else [""]
    bar = Progress("export", _count(stub, counted, flt, metadata, timeout), progress)
    n = 0
    for ns in namespaces:
        for page in _pages(stub, ns, flt, metadata, timeout):
            out.writelines(encode(m) for m in page)
            n += len(page)
            bar.update(n, n)
    out.flush()
    bar.finish(f"{n} memories from {len(namespaces)} namespaces")
    return n


def _pages(
    stub: Any, ns: str, flt: ExportFilter, metadata: Metadata, timeout: float
) -> Iterator[list[mpb.Memory]]:
    # One tier is filtered by the server; several, here (List takes one).
    one_tier = next(iter(flt.tiers)) if len(flt.tiers) == 1 else 0
    request = pb.ListRequest(
        namespace=ns,
        tier=one_tier,  # type: ignore[arg-type]
        page_size=PAGE_SIZE,
        created_after_ms=flt.created_after_ms,
        created_before_ms=flt.created_before_ms,
    )
    while True:
        reply = stub.List(request, metadata=metadata, timeout=timeout)
        yield [m for m in reply.memories if not flt.tiers or m.tier in flt.tiers]
        if not reply.next_page_token:
            return
        request.page_token = reply.next_page_token


def _count(
    stub: Any, namespaces: Sequence[str], flt: ExportFilter, metadata: Metadata, timeout: float
) -> int:
    """Memories in the selected namespaces and tiers, for the progress bar.

    An upper bound with a time range; 0 (unknown) when Stats is not allowed.
    """
    total = 0
    try:
        for ns in namespaces:
            reply = stub.Stats(pb.StatsRequest(namespace=ns), metadata=metadata, timeout=timeout)
            for space in reply.namespaces:
                total += sum(t.count for t in space.tiers if not flt.tiers or t.tier in flt.tiers)
    except grpc.RpcError:
        return 0
    return total
