"""One-hop forwarding of a request to its partition's owner, over gRPC.

The request goes on as it came (serialized bytes for the raw methods), with the
caller's metadata (its token among it) and what is left of its deadline. A forwarded
request carries ``memd-forwarded``: a node that receives one for a partition it does
not serve answers UNAVAILABLE rather than forwarding again, so a request never
travels more than one hop, even while the placement map is changing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from memd.cluster.call_meta import CallMeta
from memd.errors import (
    AlreadyExists,
    CapacityExceeded,
    DataLoss,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    MemdError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

SERVICE_PATH = "/memd.v1.MemoryService/"
DEFAULT_TIMEOUT_S = 30.0
POLL_S = 0.1

# The inverse of memd.server.status.STATUS_OF for the codes an owner's own failure
# carries (one class per code; tests/cluster/test_units.py checks the round trip), so
# a forwarded call ends with the status the owner gave. Codes not here (UNAVAILABLE,
# DEADLINE_EXCEEDED, CANCELLED...) mean the hop failed: try again.
_ERROR_OF: dict[grpc.StatusCode, type[MemdError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.RESOURCE_EXHAUSTED: CapacityExceeded,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.DATA_LOSS: DataLoss,
}


def as_memd_error(exc: grpc.RpcError, owner: str) -> MemdError:
    """The owner's failure as the exception that maps back to the same status."""
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNAVAILABLE
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    cls = _ERROR_OF.get(code)
    if cls is None:  # UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED...: try again
        return Unavailable(f"owner node {owner}: {code.name}: {details}")
    return cls(details or "")


class Forwarder:
    """Channels to the other nodes, one per address, reused.

    Args:
        node_id: This node's id (sent as ``memd-forwarded``).
        max_message_bytes: Message size limit of the channels.
    """

    def __init__(self, node_id: str, max_message_bytes: int) -> None:
        self._node_id = node_id
        self._options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._channels: dict[str, grpc.Channel] = {}
        self._raw_calls: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _channel(self, address: str) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = self._channels[address] = grpc.insecure_channel(address, self._options)
            return channel

    def _raw(self, address: str, method: str) -> Any:
        """The bytes-in, bytes-out callable of ``method`` at ``address``, made once.

        Reused across calls (a multi-callable is thread-safe), registered with the
        channel so each call skips the method's lookup in the gRPC core.
        """
        call = self._raw_calls.get((address, method))
        if call is None:
            call = self._channel(address).unary_unary(
                SERVICE_PATH + method, _registered_method=True
            )
            self._raw_calls[address, method] = call
        return call

    def _call_args(self, context: Any, meta: CallMeta | None = None) -> dict[str, Any]:
        metadata = (meta or CallMeta(context, self._node_id)).relayed
        remaining = context.time_remaining()
        timeout = DEFAULT_TIMEOUT_S if remaining is None or remaining > 1e6 else remaining
        return {"metadata": metadata, "timeout": timeout}

    def unary(
        self,
        owner: tuple[str, str],
        method: str,
        request: Any,
        context: Any,
        still_owner: Callable[[], bool],
        serialize: Callable[[Any], bytes] | None = None,
        deserialize: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Forward a unary call (bytes in and out when no (de)serializer is given).

        An owner that stops answering (paused, or its machine gone) would hold the call
        until the caller's deadline: while waiting, ``still_owner`` is asked every
        ``POLL_S``, and once the owner's lease lapsed or the partition moved the call is
        cancelled and answered UNAVAILABLE, so the caller's retry finds the new owner.
        A write cancelled that way may or may not have been applied, as with any timeout.
        """
        if serialize is None and deserialize is None:
            stub = self._raw(owner[1], method)
        else:
            stub = self._channel(owner[1]).unary_unary(
                SERVICE_PATH + method,
                request_serializer=serialize,
                response_deserializer=deserialize,
            )
        call = stub.future(request, **self._call_args(context))
        try:
            while True:
                try:
                    return call.result(timeout=POLL_S)
                except grpc.FutureTimeoutError:
                    if not still_owner():
                        call.cancel()
                        raise Unavailable(
                            f"owner node {owner[0]} stopped answering and lost the partition; "
                            "the request may or may not have been applied: retry"
                        ) from None
        except grpc.RpcError as exc:
            raise as_memd_error(exc, owner[0]) from None

    def read(
        self,
        owner: tuple[str, str],
        method: str,
        request: bytes,
        context: Any,
        meta: CallMeta,
        still_owner: Callable[[], bool],
        slice_s: float,
    ) -> Any:
        """Forward a read (raw bytes in and out) as plain blocking calls.

        Cheaper than ``unary``'s watched future (no polling thread hand-offs), which a
        read can afford because it may be sent again: the first attempt is bounded by
        ``slice_s`` (a lease); one that runs out while the owner still holds the
        partition is sent again with twice the bound (a read that is merely slow still
        completes), within the caller's deadline; one whose owner lost the partition
        meanwhile is answered UNAVAILABLE. ``meta``: the call's metadata, already read.
        """
        stub = self._raw(owner[1], method)
        args = self._call_args(context, meta)
        metadata = args["metadata"]
        deadline = time.monotonic() + args["timeout"]
        while True:
            left = deadline - time.monotonic()
            try:
                return stub(request, metadata=metadata, timeout=min(left, slice_s))
            except grpc.RpcError as exc:
                timed_out = isinstance(exc, grpc.Call) and (
                    exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED
                )
                if not timed_out or left <= slice_s:
                    raise as_memd_error(exc, owner[0]) from None
                if not still_owner():
                    raise Unavailable(
                        f"owner node {owner[0]} stopped answering and lost the partition; retry"
                    ) from None
                slice_s *= 2

    def stream(
        self,
        owner: tuple[str, str],
        method: str,
        request: Any,
        context: Any,
        serialize: Callable[[Any], bytes],
        deserialize: Callable[[bytes], Any],
    ) -> Iterator[Any]:
        """Forward a server-streaming call, relaying each response."""
        stub = self._channel(owner[1]).unary_stream(
            SERVICE_PATH + method, request_serializer=serialize, response_deserializer=deserialize
        )
        try:
            yield from stub(request, **self._call_args(context))
        except grpc.RpcError as exc:
            raise as_memd_error(exc, owner[0]) from None

    def call_at(
        self,
        node: tuple[str, str],
        path: str,
        request: Any,
        context: Any,
        serialize: Callable[[Any], bytes],
        deserialize: Callable[[bytes], Any],
    ) -> Any:
        """One blocking unary call of any service's method ``path`` on ``node`` (id, address).

        Raises:
            memd.errors.MemdError: The node's failure, as its status.
        """
        stub = self._channel(node[1]).unary_unary(
            path, request_serializer=serialize, response_deserializer=deserialize
        )
        try:
            return stub(request, **self._call_args(context))
        except grpc.RpcError as exc:
            raise as_memd_error(exc, node[0]) from None

    def gather(
        self,
        nodes: list[tuple[str, str]],
        method: str,
        request: Any,
        context: Any,
        serialize: Callable[[Any], bytes],
        deserialize: Callable[[bytes], Any],
    ) -> list[tuple[str, Any, Any]]:
        """Send one unary call to every node at once: (node id, reply, trailing metadata).

        Raises:
            memd.errors.MemdError: The first node (in ``nodes`` order) that failed, as
                its status (UNAVAILABLE when it could not be reached).
        """
        args = self._call_args(context)
        calls = [
            (
                node_id,
                self._channel(address)
                .unary_unary(
                    SERVICE_PATH + method,
                    request_serializer=serialize,
                    response_deserializer=deserialize,
                )
                .future(request, **args),
            )
            for node_id, address in nodes
        ]
        out = []
        for node_id, call in calls:
            try:
                out.append((node_id, call.result(), call.trailing_metadata()))
            except grpc.RpcError as exc:
                for _, other in calls:
                    other.cancel()
                raise as_memd_error(exc, node_id) from None
        return out

    def close(self) -> None:
        """Close every channel."""
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            self._raw_calls.clear()
