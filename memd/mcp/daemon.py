"""The MCP server's link to a running daemon: one gRPC channel, the token on every call.

The daemon package cannot use ``memd_client`` (that distribution depends on this one),
so the link speaks the generated stubs directly. Its calls are blocking; the server
runs them in worker threads. Every failure comes out as one ``DaemonError`` carrying
the daemon's status name and message, which the tools hand to the model unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import grpc

from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc

_Reply = TypeVar("_Reply")


class DaemonError(Exception):
    """A call the daemon refused or could not answer.

    Attributes:
        code: The gRPC status name (INVALID_ARGUMENT, PERMISSION_DENIED, UNAVAILABLE, ...).
        message: The daemon's message (or gRPC's, when the daemon was not reached).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DaemonLink:
    """Blocking calls to one daemon's MemoryService, each with the token and a deadline.

    Args:
        channel: A channel to the daemon (``memd.client_channel.open_channel``); the
            link closes it.
        token: Sent as ``authorization: Bearer <token>``; empty sends none.
        timeout_s: Deadline of each call, in seconds.
    """

    def __init__(self, channel: grpc.Channel, token: str, timeout_s: float) -> None:
        self._channel = channel
        self._stub = pb_grpc.MemoryServiceStub(channel)  # type: ignore[no-untyped-call]
        # Sent as plain metadata, as `memd token` does: call credentials would need a
        # channel gRPC considers secure, which a plaintext loopback channel is not.
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout_s = timeout_s

    def store(self, request: pb.StoreRequest) -> pb.StoreResponse:
        """Store one batch (``Store``)."""
        return cast(pb.StoreResponse, self._call(self._stub.Store, request))

    def retrieve(self, request: pb.RetrieveRequest) -> pb.RetrieveResponse:
        """Read keys (``Retrieve``)."""
        return cast(pb.RetrieveResponse, self._call(self._stub.Retrieve, request))

    def search(self, request: pb.SearchRequest) -> list[pb.SearchHit]:
        """Every hit of a ``Search``, best first (the pages joined)."""

        def collect(req: pb.SearchRequest, **kwargs: Any) -> list[pb.SearchHit]:
            return [hit for page in self._stub.Search(req, **kwargs) for hit in page.hits]

        return self._call(collect, request)

    def list(self, request: pb.ListRequest) -> pb.ListResponse:
        """One page of ``List``."""
        return cast(pb.ListResponse, self._call(self._stub.List, request))

    def delete(self, request: pb.DeleteRequest) -> pb.DeleteResponse:
        """Delete keys (``Delete``)."""
        return cast(pb.DeleteResponse, self._call(self._stub.Delete, request))

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def _call(self, method: Callable[..., _Reply], request: Any) -> _Reply:
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout_s)
        except grpc.RpcError as exc:
            # gRPC's own details (an unreachable address) can span several lines.
            details = " ".join(str(exc.details()).split())
            raise DaemonError(exc.code().name, details) from None
