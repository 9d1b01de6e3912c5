"""Sweep, RunLifecycle, Clear and Transfer in cluster mode: log entries on the owner.

A mixin of ``ClusterMemoryServicer``. Each runs on its partition's owner (forwarded
there, one hop, like a Store) as one log entry (``entry.py``), so every replica applies
the same effects at the same time:
- Clear: a ``clear`` entry;
- Transfer: a ``transfer`` entry when the source and the target namespaces hash into
  the same partition; across partitions a saga of entries in the two logs, run by the
  source's owner (``transfer.py``);
- RunLifecycle of one namespace: a ``lifecycle`` entry (a dry run changes nothing and
  runs on the owner without one); without a namespace it is refused: the owners'
  schedulers run every namespace's passes;
- Sweep: ``SweepRequest`` has no namespace. With a ``memd-namespace`` header it sweeps
  that namespace's partition on its owner; without one it fans out like Stats: every
  live node sweeps the partitions it serves (``max_items`` per partition), and the
  replies are summed, UNAVAILABLE unless every partition was swept by someone.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.call_meta import forwarded, header_namespace
from memd.cluster.effects import lifecycle_entry, sweep_partition
from memd.cluster.entry import wall_ms
from memd.cluster.fanout import FanOut, served_header, served_of
from memd.cluster.forward import Forwarder
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.cluster.transfer import TRANSFER_IN, check_request, run_transfer_in, transfer_across
from memd.errors import FailedPrecondition, Unavailable
from memd.metrics import Metrics
from memd.server import convert, ops
from memd.server.servicer import DEFAULT_SWEEP, MAX_SWEEP


class EffectHandlers:
    """The four handlers, over the cluster servicer's node and forwarder."""

    _node: ClusterNode
    _fwd: Forwarder
    _fan: FanOut
    _count: int
    _metrics: Metrics
    # ClusterMemoryServicer's and MemoryServicer's (declared, not defined: this mixin
    # comes first in their MRO, so a definition here would shadow theirs).
    _owner: Callable[..., tuple[int, tuple[str, str] | None]]
    _still: Callable[[int, tuple[str, str]], Callable[[], bool]]
    _batch: Callable[[str, int], None]

    def _forward(self, method: str, request: Any, namespace: str, context: Any, parse: Any) -> Any:
        """The reply of ``request`` from ``namespace``'s owner; None if served here.

        ``parse`` reads the owner's reply: a message class's ``FromString``, or
        ``bytes`` for a raw reply (``RAW_REPLIES``).
        """
        partition, owner = self._owner(method, namespace, context)
        if owner is None:
            return None
        serialize = type(request).SerializeToString
        still = self._still(partition, owner)
        return self._fwd.unary(owner, method, request, context, still, serialize, parse)

    def Clear(self, request: pb.ClearRequest, context: Any) -> pb.ClearResponse:
        """Empty one tier (or all) of a namespace through its partition's log."""
        reply = self._forward(
            "Clear", request, request.namespace, context, pb.ClearResponse.FromString
        )
        if reply is not None:
            return reply  # type: ignore[no-any-return]
        partition = partition_of(request.namespace, self._count)
        removed = self._node.write(partition, "clear", request.SerializeToString(), wall_ms())
        return pb.ClearResponse(removed=removed)

    def Transfer(self, request: pb.TransferRequest, context: Any) -> pb.TransferResponse:
        """Move or copy: one entry within a partition, a saga across two (``transfer.py``)."""
        self._batch("Transfer", len(request.keys))
        source = partition_of(request.namespace, self._count)
        target = partition_of(request.target_namespace, self._count)
        if source != target:
            check_request(request)  # refused before any step, as on a single node
        reply = self._forward(
            "Transfer", request, request.namespace, context, pb.TransferResponse.FromString
        )
        if reply is not None:
            return reply  # type: ignore[no-any-return]
        if source != target:
            return transfer_across(
                self._node, request, lambda step: self._transfer_in(target, step, context)
            )
        report = self._node.write(source, "transfer", request.SerializeToString(), wall_ms())
        return ops.transfer_response(report)

    def _transfer_in(
        self, partition: int, step: cpb.TransferInRequest, context: Any
    ) -> cpb.TransferInResponse:
        """Step (b) of a transfer across partitions: here, or on the target's owner."""
        if self._node.states[partition].serving:
            return run_transfer_in(self._node, partition, step)
        owner = self._node.owner_address(partition)
        if owner is None or owner[0] == self._node.id:
            raise Unavailable(f"partition {partition} has no serving owner right now; retry")
        return self._fwd.call_at(  # type: ignore[no-any-return]
            owner,
            TRANSFER_IN,
            step,
            context,
            cpb.TransferInRequest.SerializeToString,
            cpb.TransferInResponse.FromString,
        )

    def RunLifecycle(self, request: pb.RunLifecycleRequest, context: Any) -> bytes:
        """One namespace's lifecycle pass through its partition's log.

        The reply is encoded in Rust, as on a single node (``RAW_REPLIES``), and a
        forwarded one is relayed as the owner's bytes.
        """
        run = convert.lifecycle_run(request)  # InvalidArgument before anything is logged
        if run.namespace is None:
            raise FailedPrecondition(
                "RunLifecycle in cluster mode runs one namespace: name it (the owners' "
                "schedulers run every namespace's passes)"
            )
        reply = self._forward("RunLifecycle", request, run.namespace, context, bytes)
        if reply is not None:
            return reply  # type: ignore[no-any-return]
        if run.dry_run:  # changes nothing: the owner's own copy answers
            return super().RunLifecycle(request, context)  # type: ignore[misc, no-any-return]
        entry = pb.RunLifecycleRequest(
            namespace=run.namespace, jobs=request.jobs, max_actions=run.max_actions
        )
        partition = partition_of(run.namespace, self._count)
        start = perf_counter()
        report = lifecycle_entry(self._node, partition, entry)
        self._metrics.observe_lifecycle(report, "rpc", False, perf_counter() - start)
        return report.encode_response(False)  # type: ignore[no-any-return]

    def Sweep(self, request: pb.SweepRequest, context: Any) -> pb.SweepResponse:
        """Sweep one namespace's partition (header), or every partition (fan-out)."""
        max_items = min(request.max_items or DEFAULT_SWEEP, MAX_SWEEP)
        namespace = header_namespace(context)
        if namespace is not None:
            reply = self._forward("Sweep", request, namespace, context, pb.SweepResponse.FromString)
            if reply is not None:
                return reply  # type: ignore[no-any-return]
            partition = partition_of(namespace, self._count)
            expired, more = sweep_partition(self._node, partition, max_items)
            return pb.SweepResponse(expired=expired, more=more)
        served = self._fan.served()
        total = pb.SweepResponse()
        for partition in sorted(served):
            expired, more = sweep_partition(self._node, partition, max_items)
            total.expired += expired
            total.more = total.more or more
        if forwarded(context):  # one node's part of a fan-out
            context.set_trailing_metadata(served_header(served))
            return total
        for _, reply, trailing in self._fan.ask("Sweep", request, context, pb.SweepResponse):
            total.expired += reply.expired
            total.more = total.more or reply.more
            served |= served_of(trailing)
        self._fan.check_covered(served)
        return total
