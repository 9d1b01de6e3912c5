"""Transfer across partitions in cluster mode: a saga over the two partitions' logs.

A Transfer whose source and target namespaces hash into one partition is one
``transfer`` entry of that partition's log (``effect_rpcs.py``), atomic as on a single
node. Across partitions no single log orders both halves, and memd runs no consensus
of its own, so the transfer runs as three steps, each an ordinary entry of one
partition's log appended by its owner (the source's owner coordinates: the request is
forwarded there like any write of the source):

(a) ``read_source``: the source's owner reads the memories from its own copy, full
    records (text, value, vector, tags, metadata, tier, times, access statistics,
    version), live at that time, and counts the requested keys it lacks;
(b) a ``transfer_in`` entry on the target's partition (``TransferIn``, run by the
    target's owner, this node or another; applied by ``transfer_steps.py``): every
    replica decides, from its own copy at the entry's place in the log and the
    entry's time, what single-node Transfer decides
    (conflicts, dimensions, expiry), then stores the chosen memories with their history
    in one atomic engine call; the reply names the keys that landed;
(c) for a move, a ``transfer_out`` entry on the source's partition: every replica
    deletes each landed key only if its record still has the version and update time
    read in (a) (``Engine.delete_unchanged``, checked in the engine's writer), so a
    write that raced the transfer stays, counted in ``kept_changed``.

A crash between steps leaves a copy in both namespaces (never none); retrying the same
request converges (docs/cluster.md, Guarantees). Readers may see a moved memory in
both namespaces between (b) and (c).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from memd import _core
from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.entry import wall_ms
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.engine import Engine
from memd.errors import CapacityExceeded, InvalidArgument, NotFound
from memd.server import convert

TRANSFER_IN = "/memd.v1.ClusterService/TransferIn"
_PAGE = 1000  # memories per engine.list page when reading a whole namespace
_HEADROOM = 4096  # of NATS's max_payload, for the entry's headers


def check_request(request: pb.TransferRequest) -> None:
    """The checks a single node makes before its transfer job, made before step (a).

    Raises:
        InvalidArgument: As single-node Transfer would.
    """
    if request.whole_namespace and request.keys:
        raise InvalidArgument("set keys or whole_namespace, not both")
    if not request.whole_namespace and not request.keys:
        raise InvalidArgument("no keys to transfer: name the keys, or ask for the whole namespace")
    if request.on_conflict not in pb.TransferConflict.values() or (
        request.on_dimension_mismatch not in pb.TransferDimension.values()
    ):
        raise InvalidArgument(
            f"unknown on_conflict {request.on_conflict} or on_dimension_mismatch "
            f"{request.on_dimension_mismatch}"
        )


def read_source(engine: Engine, request: pb.TransferRequest, now_ms: int) -> cpb.TransferInRequest:
    """Step (a), on the source's owner: the memories to transfer, as step (b)'s request.

    Raises:
        NotFound: The source namespace does not exist.
        InvalidArgument: An invalid namespace or key.
    """
    source = request.namespace
    if not engine.stats(source):
        raise NotFound(f"namespace {source!r} does not exist")
    if request.whole_namespace:
        found: list[_core.Memory] = []
        cursor = ""
        while True:
            page = engine.list(source, cursor=cursor, limit=_PAGE, now_ms=now_ms)
            found.extend(page.items)
            cursor = page.next_cursor
            if not cursor:
                break
        # The single node counts its expired, unswept memories as missing.
        missing = engine.expired_count([source], now_ms)
    else:
        keys = list(dict.fromkeys(request.keys))  # duplicates once, request order
        got = engine.get_many(source, keys, count_access=False, now_ms=now_ms)
        found = [m for m in got if m is not None]
        missing = len(keys) - len(found)
    return cpb.TransferInRequest(
        namespace=request.target_namespace,
        transfer=request,
        memories=[convert.memory(m) for m in found],
        missing=missing,
    )


def run_transfer_in(
    node: ClusterNode, partition: int, step: cpb.TransferInRequest
) -> cpb.TransferInResponse:
    """Step (b) as the target's owner: one ``transfer_in`` entry of ``partition``'s log.

    Raises:
        memd.errors.Unavailable: This node does not serve the partition (any more).
        memd.errors.MemdError: The entry's refusal (``transfer_steps.apply_transfer_in``).
    """
    return node.write(partition, "transfer_in", step.SerializeToString(), wall_ms())  # type: ignore[no-any-return]


def transfer_across(
    node: ClusterNode,
    request: pb.TransferRequest,
    transfer_in: Callable[[cpb.TransferInRequest], cpb.TransferInResponse],
) -> pb.TransferResponse:
    """Run steps (a) to (c) as the source's owner; ``transfer_in`` runs step (b).

    Raises:
        memd.errors.Unavailable: This node lost the source's partition, or the target's
            owner could not be reached; what was done stays done (see the module
            docstring): retry.
        memd.errors.MemdError: As single-node Transfer, from step (a) or (b).
    """
    source = partition_of(request.namespace, len(node.states))
    step_b = read_source(node.replica.engine, request, wall_ms())
    size = step_b.ByteSize()
    if size > node.max_entry_bytes - _HEADROOM:
        raise CapacityExceeded(
            f"the memories to transfer take {size} bytes, more than one log entry may "
            f"({node.max_entry_bytes - _HEADROOM}); transfer fewer keys per request"
        )
    done = transfer_in(step_b)
    reply = done.report
    step_c = out_entry(request, step_b, done)
    if step_c is not None:
        deleted = node.write(source, "transfer_out", step_c.SerializeToString(), wall_ms())
        reply.kept_changed = len(step_c.keys) - sum(deleted)
    return reply


def out_entry(
    request: pb.TransferRequest, step_b: cpb.TransferInRequest, done: cpb.TransferInResponse
) -> cpb.TransferOutEntry | None:
    """Step (c)'s entry, or None when there is nothing to delete.

    For a move: the keys that landed, each with the version and update time read in
    step (a).
    """
    if not request.move or not done.landed:
        return None
    read = {m.key: (m.version, m.updated_ms) for m in step_b.memories}
    landed: Sequence[str] = done.landed
    return cpb.TransferOutEntry(
        namespace=request.namespace,
        keys=landed,
        versions=[read[k][0] for k in landed],
        updated_ms=[read[k][1] for k in landed],
    )
