"""What the span of each RPC says: the memd RPC -> GenAI memory operation table.

Names follow the OpenTelemetry GenAI memory conventions (the ``gen_ai.memory.client``
span of open-telemetry/semantic-conventions-genai) and, for what every RPC has, the RPC
conventions (``rpc.*``). docs/tracing.md has the table in prose and the reasons.

A span is built from the raw messages the interceptor hands over: requests are bytes
for every method, replies bytes for the methods the Rust codec answers. The namespace
comes from ``_core.peek_namespace`` (no full decode); other fields are decoded only
when an attribute needs them, and memory text and queries only with ``record_content``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from memd import _core
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
STORE_ID = "gen_ai.memory.store.id"
RECORD_ID = "gen_ai.memory.record.id"
RECORD_COUNT = "gen_ai.memory.record.count"
QUERY_TEXT = "gen_ai.memory.query.text"
RECORDS = "gen_ai.memory.records"
ERROR_TYPE = "error.type"
RPC_SYSTEM = "rpc.system.name"
RPC_METHOD = "rpc.method"
RPC_STATUS = "rpc.response.status_code"

PROVIDER_NAME = "memd"
MAX_RECORDS = 100
"""Most records one span carries in ``gen_ai.memory.records`` (the count has them all):
a 10 000-memory batch would otherwise make a span larger than collectors accept."""


class Observed:
    """What one call's messages showed, turned into attributes when the span ends.

    Args:
        content: Record memory text and queries (``record_content``).
    """

    __slots__ = ("content", "count", "ids", "mixed", "namespace", "pending", "query", "records")

    def __init__(self, content: bool) -> None:
        self.content = content
        self.namespace: str | None = None
        self.mixed = False
        self.count = 0
        self.ids: list[str] = []  # at most two: one record id is reported, not more
        self.query = ""
        self.records: list[dict[str, Any]] = []
        # Store batches waiting for their reply, whose keys name their records (made
        # only when content is recorded: most calls never need it).
        self.pending: deque[list[mpb.NewMemory]] | None = None

    def in_namespace(self, namespace: str) -> None:
        """One request message named ``namespace`` (streams may name several)."""
        if self.namespace is None:
            self.namespace = namespace
        elif namespace != self.namespace:
            self.mixed = True

    def key(self, key: str) -> None:
        """The call acted on memory ``key``; one key in all is its record id."""
        if len(self.ids) < 2 and key not in self.ids:
            self.ids.append(key)

    def record(self, key: str, memory: Any, score: float | None = None) -> None:
        """Keep a memory for ``gen_ai.memory.records`` (only with content on)."""
        if len(self.records) >= MAX_RECORDS:
            return
        item: dict[str, Any] = {"id": key, "content": memory.text or None}
        if memory.metadata:
            item["metadata"] = dict(memory.metadata)
        if score is not None:
            item["score"] = score
        self.records.append(item)

    def attributes(self, has_records: bool) -> dict[str, Any]:
        """The call's attributes: store, record id and count, and the opt-in content."""
        out: dict[str, Any] = {}
        if self.namespace and not self.mixed:
            out[STORE_ID] = self.namespace
        if len(self.ids) == 1:
            out[RECORD_ID] = self.ids[0]
        if has_records:
            out[RECORD_COUNT] = self.count
        if self.query:
            out[QUERY_TEXT] = self.query
        if self.records:
            out[RECORDS] = json.dumps(self.records, ensure_ascii=False)
        return out


Reader = Callable[[Observed, Any], None]


@dataclass(frozen=True, slots=True)
class Operation:
    """How one RPC appears as a span.

    Attributes:
        name: ``gen_ai.operation.name``; None for an RPC that is not a memory operation
            (its span is a plain RPC span named after the method).
        request: Reads one request message (bytes) into the call's ``Observed``.
        reply: Reads one reply message (bytes, or the servicer's protobuf message).
        counts: The operation has a ``gen_ai.memory.record.count``.
    """

    name: str | None
    request: Reader | None = None
    reply: Reader | None = None
    counts: bool = False


def _namespace(seen: Observed, raw: bytes) -> None:
    seen.in_namespace(_core.peek_namespace(raw))


def _with_content(message: Any, keep: Callable[[Observed, Any], None]) -> Reader:
    """A request reader that decodes the message only when content is recorded."""

    def read(seen: Observed, raw: bytes) -> None:
        if not seen.content:
            _namespace(seen, raw)
            return
        request = message.FromString(raw)
        seen.in_namespace(request.namespace)
        keep(seen, request)

    return read


def _keep_batch(seen: Observed, request: pb.StoreRequest) -> None:
    if seen.pending is None:
        seen.pending = deque()
    seen.pending.append(list(request.memories))


def _keep_query(seen: Observed, request: pb.SearchRequest) -> None:
    seen.query = request.query or request.phrase


def _store_reply(seen: Observed, raw: bytes) -> None:
    reply = pb.StoreResponse.FromString(raw)
    seen.count += len(reply.keys)
    for key in reply.keys[:2]:
        seen.key(key)
    if seen.pending:
        for key, memory in zip(reply.keys, seen.pending.popleft(), strict=False):
            seen.record(key, memory)


def _keys_request(message: Any) -> Reader:
    def read(seen: Observed, raw: bytes) -> None:
        request = message.FromString(raw)
        seen.in_namespace(request.namespace)
        for key in request.keys[:2]:
            seen.key(key)
        if message is pb.DeleteRequest:
            seen.count += len(request.keys)

    return read


def _retrieve_reply(seen: Observed, raw: bytes) -> None:
    for result in pb.RetrieveResponse.FromString(raw).results:
        if result.found:
            seen.count += 1
            if seen.content:
                seen.record(result.key, result.memory)


def _list_reply(seen: Observed, raw: bytes) -> None:
    memories = pb.ListResponse.FromString(raw).memories
    seen.count += len(memories)
    if seen.content:
        for memory in _first(memories):
            seen.record(memory.key, memory)


def _search_reply(seen: Observed, page: pb.SearchResponse | pb.BatchSearchResponse) -> None:
    seen.count += len(page.hits)
    if seen.content:
        for hit in _first(page.hits):
            seen.record(hit.memory.key, hit.memory, hit.score)


def _keep_queries(seen: Observed, request: pb.BatchSearchRequest) -> None:
    texts = (q.query or q.phrase or q.pattern for q in request.queries)
    seen.query = "\n".join(t for t in texts if t)


def _batch_reply(seen: Observed, raw: bytes) -> None:
    _search_reply(seen, pb.BatchSearchResponse.FromString(raw))


def _transfer_request(seen: Observed, raw: bytes) -> None:
    # The store a transfer writes is its target; the source is only read (or emptied).
    request = pb.TransferRequest.FromString(raw)
    seen.in_namespace(request.target_namespace)
    for key in request.keys[:2]:
        seen.key(key)


def _transfer_reply(seen: Observed, reply: pb.TransferResponse) -> None:
    seen.count += reply.transferred


def _clear_reply(seen: Observed, reply: pb.ClearResponse) -> None:
    seen.count += reply.removed


def _first(items: Iterable[Any]) -> Iterable[Any]:
    # Stops decoding items once MAX_RECORDS are kept.
    for n, item in enumerate(items):
        if n >= MAX_RECORDS:
            return
        yield item


_SERVICE = "memd.v1.MemoryService"
_SEARCH, _UPSERT, _DELETE = "search_memory", "upsert_memory", "delete_memory"
_store = Operation(_UPSERT, _with_content(pb.StoreRequest, _keep_batch), _store_reply, counts=True)
_retrieve = Operation(_SEARCH, _keys_request(pb.RetrieveRequest), _retrieve_reply, counts=True)

OPERATIONS: dict[str, Operation] = {
    # A Store may create, replace or (dedup) merge memories without the caller choosing:
    # the conventions' upsert_memory. A batch or stream is one operation.
    f"/{_SERVICE}/Store": _store,
    f"/{_SERVICE}/StoreStream": _store,
    # Reads by key and by time are searches for the conventions (there is no get_memory).
    f"/{_SERVICE}/Retrieve": _retrieve,
    f"/{_SERVICE}/RetrieveStream": _retrieve,
    f"/{_SERVICE}/Search": Operation(
        _SEARCH, _with_content(pb.SearchRequest, _keep_query), _search_reply, counts=True
    ),
    f"/{_SERVICE}/List": Operation(_SEARCH, _namespace, _list_reply, counts=True),
    f"/{_SERVICE}/Delete": Operation(_DELETE, _keys_request(pb.DeleteRequest), counts=True),
    # A namespace is the memory store: dropping it deletes the store.
    f"/{_SERVICE}/DropNamespace": Operation("delete_memory_store", _namespace),
    # Many searches are one search operation (the count is every query's hits).
    f"/{_SERVICE}/BatchSearch": Operation(
        _SEARCH, _with_content(pb.BatchSearchRequest, _keep_queries), _batch_reply, counts=True
    ),
    # A transfer writes memories into its target store (a move also deletes them from the
    # source, which the span leaves to the record count's "transferred").
    f"/{_SERVICE}/Transfer": Operation(_UPSERT, _transfer_request, _transfer_reply, counts=True),
    # Clearing a tier deletes memories, not the store (which keeps existing).
    f"/{_SERVICE}/Clear": Operation(_DELETE, _namespace, _clear_reply, counts=True),
}
"""Full method name -> its operation. Other memd.v1 methods (Stats, Sweep, Backup,
ListNamespaces, RunLifecycle, AuthService) get plain RPC spans."""

_TRACED_PREFIX = "/memd.v1."
_RPC = Operation(None)


def operation_of(method: str) -> Operation | None:
    """The span description of a full method name; None: the method is not traced.

    Health checks and reflection are not traced: a probe every few seconds would be
    most of the spans and none of the information.
    """
    if not method.startswith(_TRACED_PREFIX):
        return None
    return OPERATIONS.get(method, _RPC)


def span_name(method: str, op: Operation) -> str:
    """``{gen_ai.operation.name}`` for a memory operation, else ``{rpc.method}``."""
    return op.name or method.lstrip("/")


def static_attributes(method: str, op: Operation) -> dict[str, str]:
    """Attributes known when the call starts (so samplers can see them)."""
    out = {RPC_SYSTEM: "grpc", RPC_METHOD: method.lstrip("/")}
    if op.name is not None:
        out[OPERATION] = op.name
        out[PROVIDER] = PROVIDER_NAME
    return out
