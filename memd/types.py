"""Plain value types that cross the boundary into ``memd._core``.

The Rust side reads these by attribute name (``#[derive(FromPyObject)]``), so field
names here and in ``rust_core/src/py/types.rs`` must match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal


class Tier(IntEnum):
    """Storage tiers, hottest first. Numbers match ``memd.v1.Tier`` in the proto."""

    UNSPECIFIED = 0
    WORKING = 1
    SHORT_TERM = 2
    LONG_TERM = 3
    ARCHIVE = 4


@dataclass(frozen=True, slots=True)
class MemoryHistory:
    """The past of a memory brought from elsewhere (an import): ``NewMemory.history``.

    A memory stored with a history gets exactly these times and counts instead of
    "now", whether its key is new or not, so storing the same item twice leaves the
    same memory, and recency, the retention score, lifecycle policies, LRU order and
    expiry act on when things really happened (docs/history.md). Dedup does not apply
    to it: it is restored under its own key. Times are ms since
    the Unix epoch; none may be more than 5 minutes ahead of the engine's clock, nor
    (``updated_ms``, ``last_access_ms``) before ``created_ms``.

    Attributes:
        created_ms: When the memory was first stored; required (0 is invalid).
        updated_ms: When it was last stored; 0 means ``created_ms``. Its TTL counts
            from this time.
        last_access_ms: When it was last read or written; 0 means ``updated_ms``.
        access_count: Reads and writes so far.
        version: The version to give it; 0 means 1.
        expires_at_ms: When it expires; 0 means ``updated_ms`` plus its TTL. One at
            or before now is rejected: it expired before it arrived.
    """

    created_ms: int
    updated_ms: int = 0
    last_access_ms: int = 0
    access_count: int = 0
    version: int = 0
    expires_at_ms: int = 0


@dataclass(frozen=True, slots=True)
class NewMemory:
    """One memory to store.

    Attributes:
        key: Unique in its namespace; empty asks the engine for a time-ordered ULID.
        text: Searchable content (UTF-8, at most ``max_text_bytes``).
        value: Opaque bytes returned as stored (at most ``max_value_bytes``).
        embedding: Packed little-endian float32 vector, or ``None``. The first vector
            stored in a namespace fixes its dimension.
        tags: Free-form labels.
        metadata: String map; ``type`` and ``category`` are conventional keys.
        importance: In [0, 1]; ``None`` means 0.5 (or the existing value on update).
        priority: Higher is evicted later; eviction takes the lowest class first.
        ttl_ms: Milliseconds to live from now (from ``history.updated_ms`` with a
            history); 0 never expires; ``None`` uses the tier's default TTL.
        tier: Where to store it; ``UNSPECIFIED`` keeps an existing memory's tier and
            puts new ones in the engine's default tier.
        history: ``None``: a write happening now. Set: the memory's past, for an
            import (see ``MemoryHistory``).
        context: Optional text that situates this one (the previous turn, a session
            title): searched with ``text`` and embedded with it by a server-side
            embedder, returned as ``Memory.context``, never as its text (at most
            ``max_text_bytes``).
    """

    key: str = ""
    text: str = ""
    value: bytes = b""
    embedding: bytes | None = None
    tags: Sequence[str] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    importance: float | None = None
    priority: int = 0
    ttl_ms: int | None = None
    tier: int = Tier.UNSPECIFIED
    history: MemoryHistory | None = None
    context: str = ""


@dataclass(frozen=True, slots=True)
class TierOptions:
    """Per-tier limits, applied to every namespace.

    Attributes:
        capacity: Maximum memories per namespace in this tier; 0 is unbounded.
        default_ttl_ms: TTL for memories stored without one; 0 never expires.
    """

    capacity: int
    default_ttl_ms: int = 0


def _default_tiers() -> tuple[TierOptions, TierOptions, TierOptions, TierOptions]:
    return (
        TierOptions(capacity=100),
        TierOptions(capacity=1_000),
        TierOptions(capacity=100_000),
        TierOptions(capacity=0),
    )


@dataclass(frozen=True, slots=True)
class PolicyOptions:
    """One lifecycle policy: when every condition holds, do ``action``.

    Policies are evaluated in order; the first that matches a memory acts on it (see
    ``docs/lifecycle.md``). Unset conditions (``None``, empty) restrict nothing.

    Attributes:
        name: Reported in stats, metrics and lifecycle reports.
        action: ``archive`` (move to ARCHIVE), ``demote`` (one tier colder),
            ``delete``, or ``refresh`` (mark as used now, without counting an access:
            keeps a memory from decaying in recency, idle rules and LRU eviction).
        tiers: Only memories in these tiers (``Tier`` numbers).
        categories: Only memories whose metadata ``category`` is one of these.
        min_idle_ms: Last read or write at least this long ago.
        min_age_ms: Created at least this long ago.
        importance_below: Importance strictly below.
        importance_above: Importance strictly above.
        access_count_below: Fewer accesses than this.
        retention_below: Retention score (``docs/lifecycle.md``) strictly below.
    """

    name: str
    action: Literal["archive", "demote", "delete", "refresh"]
    tiers: Sequence[int] = ()
    categories: Sequence[str] = ()
    min_idle_ms: int | None = None
    min_age_ms: int | None = None
    importance_below: float | None = None
    importance_above: float | None = None
    access_count_below: int | None = None
    retention_below: float | None = None


@dataclass(frozen=True, slots=True)
class CategoryOptions:
    """Defaults for memories whose metadata ``category`` is ``name`` (seed 002).

    Attributes:
        name: The category.
        retention_ms: Default TTL of the category's memories (an explicit TTL wins;
            it takes precedence over the tier's default); 0 keeps them forever.
        importance: Importance of the category's memories stored without one;
            ``None`` leaves the usual 0.5.
    """

    name: str
    retention_ms: int = 0
    importance: float | None = None


@dataclass(frozen=True, slots=True)
class LifecycleOptions:
    """Consolidation, policies, categories, dedup and compression.

    Attributes:
        consolidate_min_importance: SHORT_TERM memories at least this important are
            consolidated into LONG_TERM...
        consolidate_min_access_count: ...and so are those read or written at least
            this many times.
        consolidate_min_age_ms: Only memories created at least this long ago.
        policies: Evaluated in order before consolidation; the first match acts.
        categories: Per-category retention and default importance.
        dedup_exact: A stored text identical to a live memory's text in the same
            namespace updates that memory instead of adding one.
        dedup_near_threshold: With an embedding, a memory whose cosine to the new one
            is at least this is a near-duplicate; 0 disables (the check is an exact
            scan of the namespace's vectors, one per stored memory).
        dedup_near_action: ``merge`` near-duplicates like exact ones, or ``flag``
            them (store anyway; the result names the similar memory).
        compress_from_tier: Values are lz4-compressed in this tier and colder ones...
        compress_min_bytes: ...when at least this large (and compression shrinks them).
    """

    consolidate_min_importance: float = 0.7
    consolidate_min_access_count: int = 3
    consolidate_min_age_ms: int = 0
    policies: Sequence[PolicyOptions] = ()
    categories: Sequence[CategoryOptions] = ()
    dedup_exact: bool = False
    dedup_near_threshold: float = 0.0
    dedup_near_action: Literal["merge", "flag"] = "merge"
    compress_from_tier: int = Tier.LONG_TERM
    compress_min_bytes: int = 512


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How an engine opens its store. Defaults are the daemon's defaults.

    Attributes:
        map_size_bytes: LMDB map size (virtual; the file grows as used). A full map
            raises ``CapacityExceeded``.
        durability: ``"sync"`` fsyncs every commit (group-committed across concurrent
            writers); ``"nosync"`` leaves flushing to the OS plus a periodic sync every
            ``sync_interval_ms``: a process crash loses nothing committed, an OS crash
            may lose the last interval.
        sync_interval_ms: Periodic fsync in ``nosync`` mode.
        flush_interval_ms: How often in-memory access statistics are persisted.
        tiers: WORKING, SHORT_TERM, LONG_TERM, ARCHIVE options, in that order.
        default_tier: Tier for new memories stored without one.
        promote_min_reads: Reads within ``promote_window_ms`` that promote a memory
            one tier up.
        promote_window_ms: The window for ``promote_min_reads``.
        promote_importance: Importance above which any read promotes.
        max_value_bytes: Largest accepted value.
        max_text_bytes: Largest accepted text.
        max_embedding_dim: Largest accepted embedding dimension.
        lifecycle: Consolidation, policies, categories, dedup and compression.
        search_language: Snowball stemming language of keyword search (one of
            ``SEARCH_LANGUAGES``; ``"none"``: no stemming). Indexes are rebuilt with
            it when the store opens.
        search_stop_words: Drop ``search_language``'s stop-words at indexing and
            query time (only ``"english"`` has a list; with another language it is
            refused). Off by default: docs/search.md#stop-words has the measurement.
        vector_quantization: How vector indexes hold their rows in memory:
            ``"none"`` (f32) or ``"int8"`` (about 4 x smaller; final candidates are
            re-scored with the stored f32 vectors), for namespaces no rule of
            ``vector_quantization_namespaces`` matches.
        vector_quantization_namespaces: ``(pattern, quantization)`` overrides, first
            match wins; a pattern is a namespace or a prefix ending in ``*``. A
            namespace whose quantization changed has its index rebuilt at open.
        lazy_expiry: A read that meets an expired memory removes it. Cluster mode
            turns it off (the owner's logged sweeps remove it on every replica).
        deferred_access: A read that counts an access records it in a pending buffer
            instead of updating the memory (``Engine.take_touches``). Cluster mode
            turns it on: the owner logs the buffer as ``touch`` entries that every
            replica applies (memd/cluster/touch.py).
    """

    map_size_bytes: int = 64 << 30
    durability: Literal["sync", "nosync"] = "sync"
    sync_interval_ms: int = 1_000
    flush_interval_ms: int = 1_000
    tiers: tuple[TierOptions, TierOptions, TierOptions, TierOptions] = field(
        default_factory=_default_tiers
    )
    default_tier: int = Tier.SHORT_TERM
    promote_min_reads: int = 3
    promote_window_ms: int = 3_600_000
    promote_importance: float = 0.8
    max_value_bytes: int = 1 << 20
    max_text_bytes: int = 256 << 10
    max_embedding_dim: int = 4_096
    lifecycle: LifecycleOptions = field(default_factory=LifecycleOptions)
    search_language: str = "english"
    search_stop_words: bool = False
    vector_quantization: Literal["none", "int8"] = "none"
    vector_quantization_namespaces: tuple[tuple[str, str], ...] = ()
    lazy_expiry: bool = True
    deferred_access: bool = False


SEARCH_LANGUAGES = (
    "none",
    "arabic",
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "greek",
    "hungarian",
    "italian",
    "norwegian",
    "portuguese",
    "romanian",
    "russian",
    "spanish",
    "swedish",
    "tamil",
    "turkish",
)
"""``EngineOptions.search_language`` values: the Snowball stemmers (rust-stemmers)."""

SearchMode = Literal["auto", "keyword", "semantic", "hybrid", "phrase", "pattern"]
"""``auto`` is keyword with text, semantic with a vector, hybrid with both."""


@dataclass(frozen=True, slots=True)
class SearchWeights:
    """Weights of the final score's components (each component is in [0, 1]).

    ``score = relevance * r + recency * t + frequency * f + importance * i``.
    """

    relevance: float = 0.4
    recency: float = 0.3
    frequency: float = 0.2
    importance: float = 0.1


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Which memories a search may return; empty fields restrict nothing.

    Time bounds are ms since the epoch: ``*_after_ms`` inclusive, ``*_before_ms``
    exclusive, 0 unbounded. Filters are applied inside the index scan, so a selective
    filter still returns ``k`` hits when ``k`` match.

    Attributes:
        tiers: Only memories in these tiers (``Tier`` numbers 1..4).
        tags_all: Memories carrying every one of these tags.
        tags_any: Memories carrying at least one of these tags.
        metadata: Entries that must be present with exactly this value
            (``{"type": "fact"}``, ``{"category": "preference"}``).
        importance_min: Importance at least this.
        importance_max: Importance at most this.
        created_after_ms: Created at or after.
        created_before_ms: Created before.
        accessed_after_ms: Last read or written at or after.
        accessed_before_ms: Last read or written before.
    """

    tiers: Sequence[int] = ()
    tags_all: Sequence[str] = ()
    tags_any: Sequence[str] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    importance_min: float = 0.0
    importance_max: float = 1.0
    created_after_ms: int = 0
    created_before_ms: int = 0
    accessed_after_ms: int = 0
    accessed_before_ms: int = 0


CosineScale = Literal["none", "minmax", "zscore"]
"""How weighted fusion rescales cosines (``SearchQuery.cosine_scale``)."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A scored search over one namespace (see ``docs/search.md``).

    Attributes:
        namespace: The namespace searched.
        text: Query text for BM25 (and phrase mode); may be empty with a vector.
        vector: Packed little-endian float32 query vector of the namespace's
            dimension (``memd.pack_embedding``), or ``None``.
        k: Results wanted, 1..10 000.
        mode: Which relevance to use; see ``SearchMode``. ``phrase`` is keyword
            search restricted to memories containing the text as consecutive words.
            Keyword and phrase modes ignore the vector, semantic mode the text.
        weights: Final score weights.
        half_life_ms: Recency halves every ``half_life_ms`` (default one day).
        recency_from: Age measured from the ``last_access`` or from ``created``.
        fusion: Hybrid fusion: ``weighted`` (the default, chosen on
            ``bench/search_quality.py``) or ``rrf`` (reciprocal rank fusion). ``weighted`` is
            ``keyword_weight * keyword + (1 - keyword_weight) * s(cosine)``, ``s`` the
            ``cosine_scale``, where
            ``keyword`` is BM25 over the query terms' idf sum, capped at 1.
        keyword_weight: The keyword share of ``weighted`` fusion, in [0, 1].
        cosine_scale: How ``weighted`` fusion maps the vector candidates' cosines to
            [0, 1]: ``none`` (``max(cosine, 0)``), ``minmax`` (lowest 0, highest 1) or
            ``zscore`` (mean +- 3 standard deviations to [0, 1]); see
            ``docs/search.md#recall`` for the default.
        rrf_depth: ``rrf`` fusion's cut of each list, at most 10 000; 0:
            ``max(10 k, 100)``.
        frequency_saturation: Access count at which the frequency component reaches 1
            (it grows with ``log(1 + accesses)``).
        bm25_k1: BM25 term-frequency saturation.
        bm25_b: BM25 length normalisation, in [0, 1].
        filter: Which memories may be returned.
        count_access: Count each hit as a read (LRU recency, access count,
            promotion), like ``get_many``.
        pattern: Only memories whose text matches it (``docs/search.md``, pattern
            search): a glob matching the whole text, or a regular expression found
            anywhere in it. Alone, or with mode ``pattern``, every match has relevance
            1. Empty: no pattern.
        pattern_syntax: ``glob`` or ``regex``.
        pattern_ignore_case: Match letters regardless of case.
        exact: Compare the vector with every memory's; by default a namespace of
            10 000 or more vectors is searched through its HNSW graph
            (approximate, see ``docs/search.md``).
        include_embedding: Return each hit's embedding. Off by default: a hit's
            ``memory.embedding`` is then ``None`` (the vector is not even decoded).
        fuzzy: Typo tolerance for keyword terms: a query word no memory contains
            matches indexed words within 1 edit (4-7 letters) or 2 (8 and more).
            Keyword and hybrid modes only.
    """

    namespace: str
    text: str = ""
    vector: bytes | None = None
    k: int = 10
    mode: SearchMode = "auto"
    weights: SearchWeights = field(default_factory=SearchWeights)
    half_life_ms: int = 86_400_000
    recency_from: Literal["last_access", "created"] = "last_access"
    fusion: Literal["rrf", "weighted"] = "weighted"
    keyword_weight: float = 0.1
    cosine_scale: CosineScale = "minmax"
    rrf_depth: int = 0
    frequency_saturation: int = 100
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    filter: SearchFilter = field(default_factory=SearchFilter)
    count_access: bool = False
    pattern: str = ""
    pattern_syntax: Literal["glob", "regex"] = "glob"
    pattern_ignore_case: bool = False
    exact: bool = False
    include_embedding: bool = False
    fuzzy: bool = False
