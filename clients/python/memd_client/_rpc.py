"""The memd.v1.MemoryService methods, shared by the sync and the asyncio client.

Multi-callables are made from this table rather than the generated ``*_pb2_grpc``
stub: the same code serves ``grpc.Channel`` and ``grpc.aio.Channel``, and every method
gets its request and response classes typed here.
"""

from __future__ import annotations

from typing import Any, Final

from memd._pb.v1 import memory_service_pb2 as pb

SERVICE: Final = "memd.v1.MemoryService"
DEFAULT_TIMEOUT_S: Final = 30.0
MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024

# A request class of None: the client sends bytes it serialized itself (``_builder``).
_KINDS: dict[str, tuple[str, Any, Any]] = {
    "Store": ("unary_unary", None, pb.StoreResponse),
    "StoreStream": ("stream_stream", None, pb.StoreResponse),
    "Retrieve": ("unary_unary", pb.RetrieveRequest, pb.RetrieveResponse),
    "Search": ("unary_stream", pb.SearchRequest, pb.SearchResponse),
    "Delete": ("unary_unary", pb.DeleteRequest, pb.DeleteResponse),
    "List": ("unary_unary", pb.ListRequest, pb.ListResponse),
    "Stats": ("unary_unary", pb.StatsRequest, pb.StatsResponse),
    "BatchSearch": ("unary_stream", pb.BatchSearchRequest, pb.BatchSearchResponse),
    "Transfer": ("unary_unary", pb.TransferRequest, pb.TransferResponse),
    "Clear": ("unary_unary", pb.ClearRequest, pb.ClearResponse),
}


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """The gRPC channel options of a memd client."""
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # The client does its own retries (RetryPolicy); keep grpc's transparent ones.
        ("grpc.enable_retries", 1),
    ]


def multicallables(channel: Any) -> dict[str, Any]:
    """Method name -> multi-callable on ``channel`` (sync or aio)."""
    calls: dict[str, Any] = {}
    for name, (kind, request, response) in _KINDS.items():
        make = getattr(channel, kind)
        calls[name] = make(
            f"/{SERVICE}/{name}",
            request_serializer=None if request is None else request.SerializeToString,
            response_deserializer=response.FromString,
        )
    return calls
