"""One-hop forwarding of a request to its partition's owner, over gRPC.

The request goes on as it came (serialized bytes for the raw methods), with the
caller's metadata (its token among it) and what is left of its deadline. A forwarded
request carries ``memd-forwarded``: a node that receives one for a partition it does
not serve answers UNAVAILABLE rather than forwarding again, so a request never
travels more than one hop, even while the placement map is changing.

The raw-bytes calls (``read``: Retrieve and List; ``unary`` without (de)serializers:
Store) go through the Rust relay (``memd._core.relay_unary`` / ``relay_start``,
``rust_core/src/relay/``): an HTTP/2 gRPC client that runs without the GIL, so the
hop's client half costs no Python grpcio call. Everything else (streams, typed calls,
fan-outs) keeps grpcio's client. Both dial the other nodes in plaintext.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from memd._core import relay_start, relay_unary
from memd.cluster.call_meta import CallMeta
from memd.cluster.owner_status import (
    as_memd_error,
    relayed_error,
)
from memd.errors import Unavailable

_OK = grpc.StatusCode.OK.value[0]
_DEADLINE = grpc.StatusCode.DEADLINE_EXCEEDED.value[0]

SERVICE_PATH = "/memd.v1.MemoryService/"
DEFAULT_TIMEOUT_S = 30.0
POLL_S = 0.1


class Forwarder:
    """Channels to the other nodes, one per address, reused.

    Args:
        node_id: This node's id (sent as ``memd-forwarded``).
        max_message_bytes: Message size limit of the channels and the relay.
    """

    def __init__(self, node_id: str, max_message_bytes: int) -> None:
        self._node_id = node_id
        self._max = max_message_bytes
        self._options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()

    def _channel(self, address: str) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = self._channels[address] = grpc.insecure_channel(address, self._options)
            return channel

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
        Raw bytes go through the Rust relay (``_relayed``), the rest through grpcio.
        """
        if serialize is None and deserialize is None:
            return self._relayed(owner, method, request, context, still_owner)
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

    def _relayed(
        self,
        owner: tuple[str, str],
        method: str,
        request: bytes,
        context: Any,
        still_owner: Callable[[], bool],
    ) -> bytes:
        """``unary`` of raw bytes through the Rust relay, watched as ``unary`` watches.

        The call runs on the relay's thread (``relay_start``) under the caller's whole
        deadline, and this thread waits for it in ``POLL_S`` slices, asking
        ``still_owner`` between them: the request is sent once, on one HTTP/2 stream,
        whatever the number of slices (a write must not be sent twice), and cancelling
        resets that stream.
        """
        args = self._call_args(context)
        pending = relay_start(
            owner[1], SERVICE_PATH + method, args["metadata"], request, args["timeout"], self._max
        )
        while (reply := pending.wait(POLL_S)) is None:
            if not still_owner():
                pending.cancel()
                raise Unavailable(
                    f"owner node {owner[0]} stopped answering and lost the partition; "
                    "the request may or may not have been applied: retry"
                )
        code, message, body, _ = reply
        if code != _OK:
            raise relayed_error(code, message, owner[0])
        return body

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
        """Forward a read (raw bytes in and out) as blocking calls of the Rust relay.

        Cheaper than ``unary``'s watched call (no hand-off to the relay's thread and
        back, no polling), which a read that counts nothing can afford because it may be
        sent again (a counted read goes through ``unary``, sent once): the
        first attempt is bounded by ``slice_s`` (a lease); one that runs out while the
        owner still holds the partition is sent again with twice the bound (a read that
        is merely slow still completes), within the caller's deadline; one whose owner
        lost the partition meanwhile is answered UNAVAILABLE. ``meta``: the call's
        metadata, already read. The owner's trailing metadata is not relayed: what a
        caller reads there (``memd-read-from``...) this node set itself when routing.
        """
        path = SERVICE_PATH + method
        args = self._call_args(context, meta)
        metadata = args["metadata"]
        deadline = time.monotonic() + args["timeout"]
        while True:
            left = deadline - time.monotonic()
            code, message, body, _ = relay_unary(
                owner[1], path, metadata, request, min(left, slice_s), self._max
            )
            if code == _OK:
                return body
            if code != _DEADLINE or left <= slice_s:
                raise relayed_error(code, message, owner[0])
            if not still_owner():
                raise Unavailable(
                    f"owner node {owner[0]} stopped answering and lost the partition; retry"
                )
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
