"""The handlers of BatchSearch, Transfer and Clear: a mixin of ``MemoryServicer``.

Each is the usual shape: convert the request, make one engine call, convert the reply.
Access is checked before a handler runs (``memd.auth.policy``: BatchSearch needs READ on
its namespace, Clear DELETE, Transfer READ on the source, DELETE too to move, and WRITE
on the target).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from memd import _core
from memd._pb.v1 import memory_service_pb2 as pb
from memd.engine import Engine
from memd.errors import InvalidArgument
from memd.server.batch import batch_queries

_CONFLICTS: dict[int, Literal["fail", "skip", "overwrite"]] = {
    pb.TRANSFER_CONFLICT_UNSPECIFIED: "fail",
    pb.TRANSFER_CONFLICT_FAIL: "fail",
    pb.TRANSFER_CONFLICT_SKIP: "skip",
    pb.TRANSFER_CONFLICT_OVERWRITE: "overwrite",
}
_DIMENSIONS: dict[int, Literal["fail", "skip", "drop_embedding"]] = {
    pb.TRANSFER_DIMENSION_UNSPECIFIED: "fail",
    pb.TRANSFER_DIMENSION_FAIL: "fail",
    pb.TRANSFER_DIMENSION_SKIP: "skip",
    pb.TRANSFER_DIMENSION_DROP_EMBEDDING: "drop_embedding",
}


class OpsHandlers:
    """BatchSearch, Transfer and Clear, over the servicer's engine and limits."""

    _engine: Engine
    _max_bytes: int

    def _batch(self, method: str, n: int) -> None:
        raise NotImplementedError  # MemoryServicer's: checks and counts a batch's size

    def BatchSearch(self, request: pb.BatchSearchRequest, context: Any) -> Iterator[bytes]:
        """Run every query in one engine call; stream each one's pages, tagged, in order."""
        self._batch("BatchSearch", len(request.queries))
        queries = batch_queries(request)
        # Encoded in Rust (``engine/batch_wire.rs``): replies are bytes (``RAW_REPLIES``).
        yield from self._engine.search_batch_encoded(
            [q for q, _ in queries], [explain for _, explain in queries], self._max_bytes
        )

    def Transfer(self, request: pb.TransferRequest, context: Any) -> pb.TransferResponse:
        """Move or copy memories to another namespace, atomically."""
        self._batch("Transfer", len(request.keys))
        return transfer_response(transfer(self._engine, request))

    def Clear(self, request: pb.ClearRequest, context: Any) -> pb.ClearResponse:
        """Delete every memory of one tier, or all tiers, of a namespace."""
        return pb.ClearResponse(removed=self._engine.clear(request.namespace, request.tier))


def transfer(
    engine: Engine,
    request: pb.TransferRequest,
    now_ms: int | None = None,
    mark: tuple[str, int] | None = None,
) -> _core.TransferReport:
    """Run a ``TransferRequest`` (cluster mode: at the entry's time, with its mark).

    Raises:
        InvalidArgument: keys and whole_namespace both set, or an unknown enum value.
    """
    if request.whole_namespace and request.keys:
        raise InvalidArgument("set keys or whole_namespace, not both")
    conflict = _CONFLICTS.get(request.on_conflict)
    dimension = _DIMENSIONS.get(request.on_dimension_mismatch)
    if conflict is None or dimension is None:
        raise InvalidArgument(
            f"unknown on_conflict {request.on_conflict} or on_dimension_mismatch "
            f"{request.on_dimension_mismatch}"
        )
    return engine.transfer(
        request.namespace,
        request.target_namespace,
        None if request.whole_namespace else list(request.keys),
        move=request.move,
        on_conflict=conflict,
        on_dimension_mismatch=dimension,
        now_ms=now_ms,
        mark=mark,
    )


def transfer_response(report: _core.TransferReport) -> pb.TransferResponse:
    """A transfer's report as its reply."""
    return pb.TransferResponse(
        transferred=report.transferred,
        overwritten=report.overwritten,
        dropped_embeddings=report.dropped_embeddings,
        skipped_existing=report.skipped_existing,
        skipped_dimension=report.skipped_dimension,
        missing=report.missing,
        demoted_by_capacity=report.demoted_by_capacity,
    )
