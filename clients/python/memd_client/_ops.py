"""Requests and results of BatchSearch, Transfer and Clear, shared by both clients."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from memd._pb.v1 import memory_service_pb2 as pb
from memd_client import _builder as build
from memd_client import _types as t

Conflict = Literal["fail", "skip", "overwrite"]
DimensionMismatch = Literal["fail", "skip", "drop_embedding"]
BatchQuery = str | Mapping[str, Any]
"""One query of a batch: keywords, or ``Client.search``'s arguments as a dict
(``{"embedding": v}``, ``{"pattern": "*tea*"}``, ``{"query": "tea", "tiers": [1]}``)."""

_CONFLICTS = {
    "fail": pb.TRANSFER_CONFLICT_FAIL,
    "skip": pb.TRANSFER_CONFLICT_SKIP,
    "overwrite": pb.TRANSFER_CONFLICT_OVERWRITE,
}
_DIMENSIONS = {
    "fail": pb.TRANSFER_DIMENSION_FAIL,
    "skip": pb.TRANSFER_DIMENSION_SKIP,
    "drop_embedding": pb.TRANSFER_DIMENSION_DROP_EMBEDDING,
}


def _fields(query: Mapping[str, Any]) -> pb.SearchRequest:
    # limit 0 is "unset" (10, or the shared limit), so a query that names none keeps
    # the shared one: a batch query only sets what it says.
    return build.search_request("", **{"limit": 0, **query})


def batch_request(
    namespace: str, queries: Sequence[BatchQuery], shared: Mapping[str, Any] | None
) -> pb.BatchSearchRequest:
    """A BatchSearchRequest; each query is ``shared`` with the query's fields on top."""
    return pb.BatchSearchRequest(
        namespace=namespace,
        shared=_fields(shared or {}),
        queries=[_fields({"query": q} if isinstance(q, str) else q) for q in queries],
    )


def batch_results(pages: Iterable[pb.BatchSearchResponse], n: int) -> list[list[t.Hit]]:
    """Each query's hits, best first, from the pages of a BatchSearch."""
    out: list[list[t.Hit]] = [[] for _ in range(n)]
    for page in pages:
        out[page.query_index].extend(t.hit(h) for h in page.hits)
    return out


@dataclass(frozen=True, slots=True)
class TransferResult:
    """What a Transfer did (``TransferResponse`` in the proto)."""

    transferred: int
    overwritten: int
    dropped_embeddings: int
    skipped_existing: int
    skipped_dimension: int
    missing: int
    demoted_by_capacity: int
    # A move across partitions in cluster mode only: copied, but kept in the source
    # because it was written there meanwhile (docs/cluster.md); 0 otherwise.
    kept_changed: int = 0


def transfer_request(
    source: str,
    target: str,
    keys: Iterable[str],
    whole_namespace: bool,
    move: bool,
    on_conflict: Conflict,
    on_dimension_mismatch: DimensionMismatch,
) -> pb.TransferRequest:
    """A TransferRequest; ValueError for an unknown option."""
    if on_conflict not in _CONFLICTS or on_dimension_mismatch not in _DIMENSIONS:
        raise ValueError(
            f"unknown on_conflict {on_conflict!r} or on_dimension_mismatch "
            f"{on_dimension_mismatch!r}"
        )
    return pb.TransferRequest(
        namespace=source,
        target_namespace=target,
        keys=list(keys),
        whole_namespace=whole_namespace,
        move=move,
        on_conflict=_CONFLICTS[on_conflict],
        on_dimension_mismatch=_DIMENSIONS[on_dimension_mismatch],
    )


def transfer_result(r: pb.TransferResponse) -> TransferResult:
    """The client's view of a TransferResponse."""
    return TransferResult(
        transferred=r.transferred,
        overwritten=r.overwritten,
        dropped_embeddings=r.dropped_embeddings,
        skipped_existing=r.skipped_existing,
        skipped_dimension=r.skipped_dimension,
        missing=r.missing,
        demoted_by_capacity=r.demoted_by_capacity,
        kept_changed=r.kept_changed,
    )
