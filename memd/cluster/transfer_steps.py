"""Steps (b) and (c) of a Transfer across partitions, as every replica applies them.

``transfer.py`` runs the saga; this module is what a ``transfer_in`` entry (on the
target's partition) and a ``transfer_out`` entry (on the source's) do to a replica's
store. Both are pure functions of the replica's copy at the entry's place in the log
and of the entry (its payload and time), so every replica does the same.
"""

from __future__ import annotations

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.engine import Engine
from memd.errors import AlreadyExists, InvalidArgument

_FAIL_CONFLICT = (pb.TRANSFER_CONFLICT_UNSPECIFIED, pb.TRANSFER_CONFLICT_FAIL)
_FAIL_DIMENSION = (pb.TRANSFER_DIMENSION_UNSPECIFIED, pb.TRANSFER_DIMENSION_FAIL)


def apply_transfer_in(
    engine: Engine, payload: bytes, max_items: int, now_ms: int, mark: tuple[str, int]
) -> cpb.TransferInResponse:
    """Step (b) on every replica of the target's partition (a ``transfer_in`` entry).

    Decides as single-node Transfer does (``rust_core/src/engine/transfer.rs``'s
    ``decide``), from this replica's copy at the entry's place in the log, so every
    replica decides alike; then stores the chosen memories with their history in one
    atomic call that records the entry's mark.

    Raises:
        AlreadyExists: A key is live in the target and the request says fail.
        InvalidArgument: A dimension mismatch the request says to fail on.
    """
    entry = cpb.TransferInRequest.FromString(payload)
    req, target = entry.transfer, entry.namespace
    keys = [m.key for m in entry.memories]
    held = engine.get_many(target, keys, count_access=False, now_ms=now_ms) if keys else []
    stats = engine.stats(target)
    dim = stats[0].dimension if stats else 0
    report = pb.TransferResponse(missing=entry.missing)
    chosen: list[mpb.NewMemory] = []
    for memory, there in zip(entry.memories, held, strict=True):
        if memory.expires_at_ms and memory.expires_at_ms <= now_ms:
            report.missing += 1  # expired since step (a)
            continue
        live_there = there is not None
        if live_there:
            if req.on_conflict in _FAIL_CONFLICT:
                raise AlreadyExists(
                    f"key {memory.key!r} is already in namespace {target!r}; nothing was "
                    "transferred (on_conflict: skip or overwrite)"
                )
            if req.on_conflict == pb.TRANSFER_CONFLICT_SKIP:
                report.skipped_existing += 1
                continue
            report.overwritten += 1
        got = len(memory.embedding) // 4
        drop = False
        if got and dim and got != dim:
            if req.on_dimension_mismatch in _FAIL_DIMENSION:
                raise InvalidArgument(
                    f"key {memory.key!r} has a {got}-dimensional embedding; namespace "
                    f"{target!r} uses {dim}; nothing was transferred "
                    "(on_dimension_mismatch: skip or drop_embedding)"
                )
            if req.on_dimension_mismatch == pb.TRANSFER_DIMENSION_SKIP:
                report.skipped_dimension += 1
                report.overwritten -= int(live_there)
                continue
            drop = True
            report.dropped_embeddings += 1
        elif not dim:
            dim = got
        chosen.append(_new_memory(memory, drop))
    if not chosen:  # nothing to write: in particular, no target namespace is created
        return cpb.TransferInResponse(report=report)
    before = _capacity_moves(engine, target)
    store = pb.StoreRequest(namespace=target, memories=chosen, atomic=True)
    engine.store_encoded(store.SerializeToString(), max_items, now_ms=now_ms, mark=mark)
    report.transferred = len(chosen)
    report.demoted_by_capacity = _capacity_moves(engine, target) - before
    # Built last: a message given to a constructor is copied, not referenced.
    return cpb.TransferInResponse(report=report, landed=[m.key for m in chosen])


def apply_transfer_out(
    engine: Engine, payload: bytes, now_ms: int, mark: tuple[str, int]
) -> list[bool]:
    """Step (c) on every replica of the source's partition (a ``transfer_out`` entry)."""
    entry = cpb.TransferOutEntry.FromString(payload)
    unchanged = list(zip(entry.versions, entry.updated_ms, strict=True))
    return engine.delete_unchanged(
        entry.namespace, list(entry.keys), unchanged, now_ms=now_ms, mark=mark
    )


def _new_memory(m: mpb.Memory, drop_embedding: bool) -> mpb.NewMemory:
    """A memory read in step (a) as the item that stores it unchanged, history and all."""
    return mpb.NewMemory(
        key=m.key,
        text=m.text,
        value=m.value,
        embedding=b"" if drop_embedding else m.embedding,
        tags=m.tags,
        metadata=m.metadata,
        importance=m.importance,
        priority=m.priority,
        ttl_ms=m.ttl_ms,
        tier=m.tier,
        context=m.context,
        history=mpb.MemoryHistory(
            created_ms=m.created_ms,
            updated_ms=m.updated_ms,
            last_access_ms=m.last_access_ms,
            access_count=m.access_count,
            version=m.version,
            expires_at_ms=m.expires_at_ms,
        ),
    )


def _capacity_moves(engine: Engine, namespace: str) -> int:
    """Memories of ``namespace`` demoted or evicted by capacity so far (all tiers)."""
    total = 0
    for stats in engine.stats(namespace):
        for tier in stats.tiers:
            counters = tier.counters
            total += counters.get("demoted.capacity", 0) + counters.get("evicted.capacity", 0)
    return total
