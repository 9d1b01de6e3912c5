"""memd.v1.MemoryService handlers: validate, convert, one engine call, convert.

Handlers run on the server's worker threads (the sync grpcio server, chosen by
measurement: docs/daemon.md), so the engine call is made right here; the engine
releases the GIL, so other workers keep decoding and encoding meanwhile, and concurrent
Stores reach the engine together and are group-committed. Handlers raise
``memd.errors`` exceptions and never touch the status: the interceptor maps them with
the one table in ``status.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from time import perf_counter
from typing import Any

import grpc

from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc
from memd.backup import write_backup
from memd.engine import Engine
from memd.errors import CapacityExceeded
from memd.metrics import Metrics
from memd.server import convert
from memd.server.ops import OpsHandlers
from memd.server.status import DrainState, ServerDraining

DEFAULT_PAGE, MAX_PAGE = 100, 1_000
DEFAULT_SWEEP, MAX_SWEEP = 1_000, 100_000
_DRAINING = "the server is shutting down; batches after the last acknowledged one were not applied"


class MemoryServicer(OpsHandlers, pb_grpc.MemoryServiceServicer):
    """The gRPC face of one ``Engine`` (BatchSearch, Transfer and Clear: ``ops.py``).

    Args:
        engine: The store.
        metrics: Where to count items per batch.
        drain: Shared shutdown flag; streams end at a message boundary once it is set.
        max_batch_items: Most memories or keys per request message.
        max_message_bytes: Largest reply message; replies are paged to fit.
        backup_dir: Where Backup may write; empty disables Backup.
    """

    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        drain: DrainState,
        max_batch_items: int,
        *,
        max_message_bytes: int,
        backup_dir: str = "",
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._drain = drain
        self._max_items = max_batch_items
        self._max_bytes = max_message_bytes
        self._backup_dir = backup_dir
        items = metrics.batch_items
        self._items = {
            m: items.labels(m) for m in ("Store", "Retrieve", "Delete", "BatchSearch", "Transfer")
        }

    def _batch(self, method: str, n: int) -> None:
        if n > self._max_items:
            raise CapacityExceeded(
                f"{n} items in one message; the limit is {self._max_items} (--max-batch-items)"
            )
        self._items[method].observe(n)

    # Store, Retrieve and List take and return serialized messages (see `add_to_server`):
    # the engine decodes and encodes them in Rust, so Python does no per-item work.

    def Store(self, request: bytes, context: Any) -> bytes:
        """Store one ``StoreRequest`` batch; reply once it is committed."""
        reply, n = self._engine.store_encoded(request, self._max_items)
        self._items["Store"].observe(n)
        return reply

    def StoreStream(self, request_iterator: Iterator[bytes], context: Any) -> Iterator[bytes]:
        """Store each batch of the stream; ack each after its commit, in order."""
        for request in request_iterator:
            if self._drain.draining:
                raise ServerDraining(_DRAINING)
            yield self.Store(request, context)

    def Retrieve(self, request: bytes, context: Any) -> bytes:
        """Read a ``RetrieveRequest``; missing and expired keys are reported per key.

        A reply larger than the message limit is refused before any access is counted.
        """
        reply, n = self._engine.retrieve_encoded(
            request, self._max_items, max_reply_bytes=self._max_bytes
        )
        self._items["Retrieve"].observe(n)
        return reply

    def RetrieveStream(self, request_iterator: Iterator[bytes], context: Any) -> Iterator[bytes]:
        """Answer each key batch of the stream, in order."""
        for request in request_iterator:
            if self._drain.draining:
                raise ServerDraining(_DRAINING)
            yield self.Retrieve(request, context)

    def Search(self, request: pb.SearchRequest, context: Any) -> Iterator[pb.SearchResponse]:
        """Stream the best hits in pages, best first, each page within the message limit."""
        # The engine refuses a hit too large to send before it counts any access.
        hits = self._engine.search(convert.search_query(request), max_hit_bytes=self._max_bytes)
        yield from convert.search_pages(hits, request.explain, self._max_bytes)

    def Delete(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        """Delete a batch of keys."""
        self._batch("Delete", len(request.keys))
        deleted = self._engine.delete_many(request.namespace, request.keys)
        return pb.DeleteResponse(deleted=deleted, deleted_count=sum(deleted))

    def List(self, request: bytes, context: Any) -> bytes:
        """One page of a ``ListRequest``: live memories in key order, within the message limit."""
        reply, _ = self._engine.list_encoded(
            request, DEFAULT_PAGE, MAX_PAGE, max_reply_bytes=self._max_bytes
        )
        return reply

    def Stats(self, request: pb.StatsRequest, context: Any) -> pb.StatsResponse:
        """Statistics of one namespace or all, and LMDB map usage."""
        stats = self._engine.stats(request.namespace or None)
        return convert.stats_response(stats, self._engine.map_info())

    def Sweep(self, request: pb.SweepRequest, context: Any) -> pb.SweepResponse:
        """Remove expired memories now, at most ``max_items``."""
        result = self._engine.sweep(min(request.max_items or DEFAULT_SWEEP, MAX_SWEEP))
        return pb.SweepResponse(expired=result.expired, more=result.more)

    def Backup(self, request: pb.BackupRequest, context: Any) -> pb.BackupResponse:
        """Hot copy of the store into a new directory under the backup directory."""
        copy = write_backup(self._engine, self._backup_dir, request.path)
        return pb.BackupResponse(path=copy.path, bytes=copy.bytes)

    def ListNamespaces(
        self, request: pb.ListNamespacesRequest, context: Any
    ) -> pb.ListNamespacesResponse:
        """Namespaces that hold memories."""
        return pb.ListNamespacesResponse(namespaces=self._engine.namespaces())

    def DropNamespace(
        self, request: pb.DropNamespaceRequest, context: Any
    ) -> pb.DropNamespaceResponse:
        """Delete a namespace with all its memories."""
        return pb.DropNamespaceResponse(removed=self._engine.drop_namespace(request.namespace))

    def RunLifecycle(self, request: pb.RunLifecycleRequest, context: Any) -> bytes:
        """Run one bounded lifecycle pass now (or plan it, with ``dry_run``).

        The reply (up to 100 000 actions) is encoded in Rust without the GIL
        (``RAW_REPLIES``): built here in Python it held the interpreter for about a
        second per call, while concurrent requests waited for it.
        """
        run = convert.lifecycle_run(request)
        start = perf_counter()
        report = self._engine.lifecycle(
            run.namespace,
            consolidate=run.consolidate,
            policies=run.policies,
            dry_run=run.dry_run,
            max_actions=run.max_actions,
        )
        self._metrics.observe_lifecycle(report, "rpc", run.dry_run, perf_counter() - start)
        return report.encode_response(run.dry_run)


SERVICE: str = pb.DESCRIPTOR.services_by_name["MemoryService"].full_name

RAW_METHODS = frozenset({"Store", "StoreStream", "Retrieve", "RetrieveStream", "List"})
"""Methods whose handlers get and return serialized messages (decoded in Rust)."""

RAW_REPLIES = frozenset({"BatchSearch", "RunLifecycle"})
"""Methods whose handlers get parsed requests and return serialized replies (Rust-encoded)."""


class _HandlerCapture:
    """Stands in for a server to collect the generated code's method handlers."""

    handlers: dict[str, grpc.RpcMethodHandler]

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.handlers = handlers


def add_to_server(servicer: MemoryServicer, server: grpc.Server) -> None:
    """Register ``servicer`` as the generated code does, but with raw ``RAW_METHODS``.

    Their handlers receive and return serialized messages (no Python protobuf work);
    those of ``RAW_REPLIES`` return serialized messages.
    """
    capture = _HandlerCapture()
    pb_grpc.add_MemoryServiceServicer_to_server(servicer, capture)  # type: ignore[no-untyped-call]
    handlers = {
        name: handler._replace(request_deserializer=None, response_serializer=None)
        if name in RAW_METHODS
        else handler._replace(response_serializer=None)
        if name in RAW_REPLIES
        else handler
        for name, handler in capture.handlers.items()
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
