"""The client's own types, their conversion to and from memd.v1 messages, and retries."""

from __future__ import annotations

import array
import random
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import grpc

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.errors import MemdError
from memd.types import MemoryHistory, Tier
from memd_client._errors import from_code_number

Embedding = Sequence[float] | bytes
"""A vector: floats (packed for you) or already packed little-endian float32 bytes."""

SearchMode = Literal["auto", "keyword", "semantic", "hybrid", "pattern"]
Fusion = Literal["default", "weighted", "rrf"]
PatternSyntax = Literal["glob", "regex"]
CosineScale = Literal["default", "none", "minmax", "zscore"]


def pack_embedding(vector: Iterable[float]) -> bytes:
    """Floats as packed little-endian float32, the wire format of embeddings."""
    packed = array.array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


def unpack_embedding(data: bytes) -> list[float]:
    """The floats of a packed little-endian float32 embedding."""
    values = array.array("f")
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


@dataclass(slots=True)
class NewMemory:
    """A memory to store; a plain dict with these keys works too.

    Attributes:
        text: Searchable content.
        key: Unique within the namespace; empty asks the server for a time-ordered key.
        value: Opaque payload returned exactly as stored.
        embedding: Floats, or packed little-endian float32 bytes; None for none.
        tags: Labels used by search filters.
        metadata: String map (``type`` and ``category`` are used by search filters).
        importance: In [0, 1]; None keeps the server's default (0.5, or the stored value).
        priority: Eviction class; lower is evicted first.
        ttl_ms: Time to live in ms; None uses the tier's default, 0 never expires.
        tier: Tier to store into; UNSPECIFIED uses the server's default.
        history: None: a write happening now. Set (a ``memd.MemoryHistory`` or a dict
            of its fields): the memory's past, for an import; it keeps these times and
            counts (docs/history.md).
        context: Optional text that situates this one (the previous turn, a session
            title): searched with ``text`` and embedded with it when the server
            embeds, read back as ``Memory.context``, never as the text.
    """

    text: str = ""
    key: str = ""
    value: bytes = b""
    embedding: Embedding | None = None
    tags: Sequence[str] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    importance: float | None = None
    priority: int = 0
    ttl_ms: int | None = None
    tier: Tier | int = Tier.UNSPECIFIED
    history: MemoryHistory | Mapping[str, int] | None = None
    context: str = ""


MemoryLike = NewMemory | Mapping[str, Any]
"""What ``store`` accepts per item: a ``NewMemory`` or a dict of its fields."""


@dataclass(frozen=True, slots=True)
class Memory:
    """A stored memory as read back (see ``Memory`` in proto/memd/v1/memory.proto).

    The vector arrives as ``embedding_bytes`` (packed little-endian float32, as sent)
    and becomes floats only when ``embedding`` is first read: unpacking 384 floats
    into a list cost a client more than the rest of the hit. Search hits carry no
    vector unless the search asked (``include_embedding=True``); ``get`` and ``list``
    always do.
    """

    key: str
    text: str
    value: bytes
    embedding_bytes: bytes
    tags: list[str]
    metadata: dict[str, str]
    importance: float
    priority: int
    ttl_ms: int
    tier: Tier
    namespace: str
    expires_at_ms: int
    created_ms: int
    updated_ms: int
    last_access_ms: int
    access_count: int
    version: int
    context: str = ""
    _floats: list[float] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def embedding(self) -> list[float]:
        """The vector as floats ([] when none), unpacked on first read."""
        if self._floats is None:
            raw = self.embedding_bytes
            object.__setattr__(self, "_floats", unpack_embedding(raw) if raw else [])
        return self._floats  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search hit; ``explain`` holds the score's parts when asked for."""

    memory: Memory
    score: float
    explain: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why one item of a store batch was rejected (the others were stored)."""

    index: int
    code: int
    message: str

    @classmethod
    def of(cls, e: mpb.ItemError, offset: int = 0) -> ItemError:
        """The error of message ``e``, for the item ``offset + e.index`` of a stream.

        The server's message may start with "item N: " (N = the position in its batch);
        that is dropped, so the message is the reason alone and the index, made
        stream-wide by ``offset``, is named once, by ``exception``.
        """
        return cls(offset + e.index, e.code, _ITEM_PREFIX.sub("", e.message, count=1))

    def exception(self) -> MemdError:
        """The exception this error would be as an RPC error."""
        return from_code_number(self.code, f"item {self.index}: {self.message}")


_ITEM_PREFIX = re.compile(r"\Aitem \d+: ")


@dataclass(frozen=True, slots=True)
class StoreResult:
    """The acknowledgement of a store: the batch is committed.

    Attributes:
        keys: Per item, the stored key (server-made for an empty key).
        versions: Per item, the version after this store; 0 for a rejected item.
        tiers: Per item, the tier after the batch; UNSPECIFIED for a rejected item.
        errors: The rejected items (only with ``atomic=False``), by index.
        merged_into: Per item, the existing memory's key when the server's dedup merged
            the item into it (identical text, or a near-duplicate embedding); else "".
        similar_to: Per item, a near-duplicate's key when the server flags instead of
            merging (the item was stored anyway); else "".
    """

    keys: list[str]
    versions: list[int]
    tiers: list[Tier]
    errors: list[ItemError]
    merged_into: list[str]
    similar_to: list[str]

    @property
    def ok(self) -> bool:
        """True when every item was stored."""
        return not self.errors

    def raise_for_errors(self) -> StoreResult:
        """Raise the first rejected item's error as an exception; else return self."""
        if self.errors:
            raise self.errors[0].exception()
        return self


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What ``bulk_store`` did: every batch was acknowledged (committed)."""

    batches: int
    stored: int
    keys: list[str]
    errors: list[ItemError]


@dataclass(frozen=True, slots=True)
class TierStats:
    """Counts of one tier of one namespace."""

    tier: Tier
    count: int
    capacity: int
    bytes: int
    counters: dict[str, int]


@dataclass(frozen=True, slots=True)
class NamespaceStats:
    """Statistics of one namespace; ``tiers`` hottest first."""

    namespace: str
    dimension: int
    misses: int
    tiers: list[TierStats]
    vectors: int = 0
    """Live vectors in the namespace's vector index."""
    vectors_pending: int = 0
    """Vectors not in the HNSW graph yet; 0 once the graph is complete."""
    graph_nodes: int = 0
    """HNSW graph nodes, tombstones included."""
    vector_bytes: int = 0
    """Heap bytes of the vector index (matrix, graph, bookkeeping)."""
    vector_quantization: str = "none"
    """How the index holds vectors in memory: ``none`` (f32) or ``int8``."""

    @property
    def count(self) -> int:
        """Live memories over all tiers."""
        return sum(t.count for t in self.tiers)


@dataclass(frozen=True, slots=True)
class Stats:
    """Statistics of the store: per namespace, and LMDB map usage."""

    namespaces: dict[str, NamespaceStats]
    map_size_bytes: int
    map_used_bytes: int


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of calls that failed with UNAVAILABLE, with bounded exponential backoff.

    Attempt ``n`` (from 1) waits ``min(max_backoff_s, initial_backoff_s * multiplier **
    (n - 1))`` seconds, randomised by +-``jitter``, before the next one. ``max_attempts``
    counts the first call: 1 disables retries. The call's deadline is per attempt.
    """

    max_attempts: int = 4
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 2.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoffs(self) -> Iterator[float]:
        """The waits before attempts 2..max_attempts."""
        delay = self.initial_backoff_s
        for _ in range(self.max_attempts - 1):
            wait = min(self.max_backoff_s, delay)
            yield max(0.0, wait * (1 + random.uniform(-self.jitter, self.jitter)))
            delay *= self.multiplier


NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable(err: grpc.RpcError) -> bool:
    """Whether a failed call may be retried: only UNAVAILABLE (nothing was done)."""
    code = err.code() if callable(getattr(err, "code", None)) else None
    return bool(code == grpc.StatusCode.UNAVAILABLE)


# --- messages ---------------------------------------------------------------------------


def store_result(resp: pb.StoreResponse) -> StoreResult:
    """The StoreResult of a StoreResponse."""
    return StoreResult(
        keys=list(resp.keys),
        versions=list(resp.versions),
        tiers=[Tier(t) for t in resp.tiers],
        errors=[ItemError.of(e) for e in resp.errors],
        # The server sends these columns only when some item has a value.
        merged_into=list(resp.merged_into) or [""] * len(resp.keys),
        similar_to=list(resp.similar_to) or [""] * len(resp.keys),
    )


def memory(m: mpb.Memory) -> Memory:
    """The client Memory of a Memory message."""
    return Memory(
        key=m.key,
        text=m.text,
        value=m.value,
        embedding_bytes=m.embedding,
        tags=list(m.tags),
        metadata=dict(m.metadata),
        importance=m.importance,
        priority=m.priority,
        ttl_ms=m.ttl_ms,
        tier=Tier(m.tier),
        namespace=m.namespace,
        expires_at_ms=m.expires_at_ms,
        created_ms=m.created_ms,
        updated_ms=m.updated_ms,
        last_access_ms=m.last_access_ms,
        access_count=m.access_count,
        version=m.version,
        context=m.context,
    )


def hit(h: pb.SearchHit) -> Hit:
    """The client Hit of a SearchHit message."""
    explain = None
    if h.HasField("explain"):
        e = h.explain
        explain = {
            "relevance": e.relevance,
            "recency": e.recency,
            "frequency": e.frequency,
            "importance": e.importance,
            "bm25": e.bm25,
            "cosine": e.cosine,
        }
    return Hit(memory=memory(h.memory), score=h.score, explain=explain)


def stats(resp: pb.StatsResponse) -> Stats:
    """The client Stats of a StatsResponse."""
    return Stats(
        namespaces={
            n.namespace: NamespaceStats(
                namespace=n.namespace,
                dimension=n.dimension,
                misses=n.misses,
                tiers=[
                    TierStats(Tier(t.tier), t.count, t.capacity, t.bytes, dict(t.counters))
                    for t in n.tiers
                ],
                vectors=n.vectors,
                vectors_pending=n.vectors_pending,
                graph_nodes=n.graph_nodes,
                vector_bytes=n.vector_bytes,
                vector_quantization=n.vector_quantization or "none",
            )
            for n in resp.namespaces
        },
        map_size_bytes=resp.map_size_bytes,
        map_used_bytes=resp.map_used_bytes,
    )


class BulkAcks:
    """Collects the acknowledgements of a StoreStream into a BulkResult."""

    def __init__(self) -> None:
        self.batches = 0
        self.keys: list[str] = []
        self.errors: list[ItemError] = []
        self._offset = 0

    def add(self, resp: pb.StoreResponse) -> None:
        """Account one acknowledged batch; item indexes become stream-wide."""
        self.keys.extend(resp.keys)
        self.errors.extend(ItemError.of(e, self._offset) for e in resp.errors)
        self._offset += len(resp.keys)  # one key per item, stored or not
        self.batches += 1

    def result(self) -> BulkResult:
        """The totals."""
        return BulkResult(
            batches=self.batches,
            stored=len(self.keys) - len(self.errors),
            keys=self.keys,
            errors=self.errors,
        )
