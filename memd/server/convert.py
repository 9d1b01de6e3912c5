"""Conversions between memd.v1 protobuf messages and engine values.

Store and Retrieve never come here: their messages are decoded and encoded by the
engine in Rust (``rust_core/src/wire.rs``). What remains (List, Stats, admin replies)
is written for speed where it is per item: one comprehension per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from memd import _core
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.errors import CapacityExceeded, InvalidArgument
from memd.types import CosineScale, SearchFilter, SearchMode, SearchQuery, SearchWeights


def memory(m: _core.Memory) -> mpb.Memory:
    """A stored memory as a Memory message."""
    # None leaves a field unset; an empty list or dict costs the upb constructor about
    # 1.7 us per memory, nearly half of this function, and most memories have neither.
    return mpb.Memory(
        key=m.key,
        text=m.text,
        value=m.value,
        embedding=m.embedding,
        tags=m.tags or None,
        metadata=m.metadata or None,
        importance=m.importance,
        priority=m.priority,
        ttl_ms=m.ttl_ms,
        tier=cast("mpb.Tier", m.tier),
        namespace=m.namespace,
        expires_at_ms=m.expires_at_ms,
        created_ms=m.created_ms,
        updated_ms=m.updated_ms,
        last_access_ms=m.last_access_ms,
        access_count=m.access_count,
        version=m.version,
        context=m.context or None,
    )


def tier_stats(t: _core.TierStats) -> mpb.TierStats:
    """A tier's statistics as a message."""
    return mpb.TierStats(
        tier=cast("mpb.Tier", t.tier),
        count=t.count,
        capacity=t.capacity,
        bytes=t.bytes,
        counters=t.counters,
        value_bytes=t.value_bytes,
        stored_value_bytes=t.stored_value_bytes,
        compressed=t.compressed,
        importance_avg=t.importance_avg,
        created_avg_ms=t.created_avg_ms,
    )


def stats_response(stats: Sequence[_core.NamespaceStats], info: _core.MapInfo) -> pb.StatsResponse:
    """Per-namespace statistics plus LMDB map usage."""
    return pb.StatsResponse(
        namespaces=[
            mpb.NamespaceStats(
                namespace=s.namespace,
                dimension=s.dimension,
                misses=s.misses,
                tiers=[tier_stats(t) for t in s.tiers],
                vectors=s.vectors,
                vectors_pending=s.vectors_pending,
                graph_nodes=s.graph_nodes,
                vector_bytes=s.vector_bytes,
                vector_quantization=s.vector_quantization,
            )
            for s in stats
        ],
        map_size_bytes=info.map_size,
        map_used_bytes=info.used_bytes,
    )


DEFAULT_LIFECYCLE_ACTIONS, MAX_LIFECYCLE_ACTIONS = 10_000, 100_000


@dataclass(frozen=True, slots=True)
class LifecycleRun:
    """The engine arguments of a RunLifecycleRequest."""

    namespace: str | None
    consolidate: bool
    policies: bool
    dry_run: bool
    max_actions: int


def lifecycle_run(req: pb.RunLifecycleRequest) -> LifecycleRun:
    """The lifecycle pass a request asks for; InvalidArgument for what the proto forbids."""
    jobs = set(req.jobs)
    unknown = jobs - {pb.LIFECYCLE_JOB_CONSOLIDATE, pb.LIFECYCLE_JOB_POLICIES}
    if unknown:
        raise InvalidArgument(f"unknown lifecycle job {min(unknown)}")
    if req.max_actions > MAX_LIFECYCLE_ACTIONS:
        raise InvalidArgument(f"max_actions {req.max_actions} is above {MAX_LIFECYCLE_ACTIONS}")
    return LifecycleRun(
        namespace=req.namespace or None,
        consolidate=not jobs or pb.LIFECYCLE_JOB_CONSOLIDATE in jobs,
        policies=not jobs or pb.LIFECYCLE_JOB_POLICIES in jobs,
        dry_run=req.dry_run,
        max_actions=req.max_actions or DEFAULT_LIFECYCLE_ACTIONS,
    )


_MODES: dict[int, SearchMode] = {
    pb.SEARCH_MODE_UNSPECIFIED: "auto",
    pb.SEARCH_MODE_KEYWORD: "keyword",
    pb.SEARCH_MODE_SEMANTIC: "semantic",
    pb.SEARCH_MODE_HYBRID: "hybrid",
    pb.SEARCH_MODE_PATTERN: "pattern",
}
_SYNTAXES: dict[int, Literal["glob", "regex"]] = {
    pb.PATTERN_SYNTAX_UNSPECIFIED: "glob",
    pb.PATTERN_SYNTAX_GLOB: "glob",
    pb.PATTERN_SYNTAX_REGEX: "regex",
}
_FUSIONS: dict[int, Literal["rrf", "weighted"]] = {
    pb.FUSION_UNSPECIFIED: "weighted",
    pb.FUSION_WEIGHTED: "weighted",
    pb.FUSION_RRF: "rrf",
}
_SCALES: dict[int, CosineScale | None] = {
    pb.COSINE_SCALE_UNSPECIFIED: None,
    pb.COSINE_SCALE_NONE: "none",
    pb.COSINE_SCALE_MINMAX: "minmax",
    pb.COSINE_SCALE_ZSCORE: "zscore",
}
MAX_SEARCH_LIMIT = 1_000
MAX_MS = 2**63 - 1
"""Largest time or duration in milliseconds the engine takes (it stores them signed)."""


def search_query(req: pb.SearchRequest) -> SearchQuery:
    """The engine query for a SearchRequest; InvalidArgument for what the proto forbids."""
    if req.query and req.phrase:
        raise InvalidArgument("set query or phrase, not both")
    if req.limit > MAX_SEARCH_LIMIT:
        raise InvalidArgument(f"limit {req.limit} is above {MAX_SEARCH_LIMIT}")
    mode = _MODES.get(req.mode)
    fusion = _FUSIONS.get(req.fusion)
    syntax = _SYNTAXES.get(req.pattern_syntax)
    known_scale = req.cosine_scale in _SCALES
    if mode is None or fusion is None or syntax is None or not known_scale:
        raise InvalidArgument(
            f"unknown mode {req.mode}, fusion {req.fusion}, pattern_syntax "
            f"{req.pattern_syntax} or cosine_scale {req.cosine_scale}"
        )
    w = req.weights
    weights = (
        SearchWeights(w.relevance, w.recency, w.frequency, w.importance)
        if req.HasField("weights")
        else SearchWeights()
    )
    query = SearchQuery(
        namespace=req.namespace,
        text=req.phrase or req.query,
        vector=req.embedding or None,
        k=req.limit or 10,
        mode="phrase" if req.phrase else mode,
        weights=weights,
        recency_from="created" if req.recency_from_created else "last_access",
        fusion=fusion,
        filter=SearchFilter(
            tiers=tuple(req.tiers),
            tags_all=tuple(req.tags_all),
            tags_any=tuple(req.tags_any),
            metadata=dict(req.metadata),
            importance_min=req.min_importance if req.HasField("min_importance") else 0.0,
            importance_max=req.max_importance if req.HasField("max_importance") else 1.0,
            created_after_ms=req.created_after_ms,
            created_before_ms=req.created_before_ms,
            accessed_after_ms=req.accessed_after_ms,
            accessed_before_ms=req.accessed_before_ms,
        ),
        count_access=req.count_access,
        pattern=req.pattern,
        pattern_syntax=syntax,
        pattern_ignore_case=req.pattern_ignore_case,
        exact=req.exact,
        include_embedding=req.include_embedding,
        fuzzy=req.fuzzy,
        rrf_depth=req.rrf_depth,
    )
    scale = _SCALES[req.cosine_scale]
    if scale is not None:  # unspecified: SearchQuery's default
        query = replace(query, cosine_scale=scale)
    if req.HasField("keyword_weight"):
        query = replace(query, keyword_weight=req.keyword_weight)
    if req.recency_half_life_ms:
        # The engine checks the range too, but would name its own field (half_life_ms).
        if req.recency_half_life_ms > MAX_MS:
            raise InvalidArgument(
                f"recency_half_life_ms must be in 0..=2^63-1, got {req.recency_half_life_ms}"
            )
        query = replace(query, half_life_ms=req.recency_half_life_ms)
    return query


def search_hit(h: _core.Hit, explain: bool) -> pb.SearchHit:
    """One hit as a SearchHit, with the score breakdown when ``explain`` is set."""
    parts = h.explain if explain else None
    return pb.SearchHit(
        memory=memory(h.memory),
        score=h.score,
        explain=pb.ScoreExplain(
            relevance=parts["relevance"],
            recency=parts["recency"],
            frequency=parts["frequency"],
            importance=parts["importance"],
            bm25=parts["bm25"],
            cosine=parts["cosine"],
        )
        if parts is not None
        else None,
    )


def search_pages(
    hits: Sequence[_core.Hit], explain: bool, max_bytes: int, page: int = 100
) -> list[pb.SearchResponse]:
    """SearchResponse pages of at most ``page`` hits and ``max_bytes`` each, best first.

    Every page is built before the first is sent, so a hit that cannot fit in any
    message fails the call before the client has seen a partial result.

    Raises:
        CapacityExceeded: One hit alone is larger than ``max_bytes``.
    """
    pages: list[pb.SearchResponse] = []
    batch: list[pb.SearchHit] = []
    size = 0
    for rank, h in enumerate(hits):
        hit = search_hit(h, explain)
        # A repeated message field costs its tag (1 byte), its length varint and itself.
        n = hit.ByteSize()
        cost = 1 + (max(n.bit_length(), 1) + 6) // 7 + n
        if cost > max_bytes:
            raise CapacityExceeded(
                f"search hit {rank} (key {h.memory.key!r}) needs {cost} bytes, more than "
                f"the {max_bytes}-byte message limit (--max-message-bytes)"
            )
        if batch and (len(batch) == page or size + cost > max_bytes):
            pages.append(pb.SearchResponse(hits=batch))
            batch, size = [], 0
        batch.append(hit)
        size += cost
    if batch:
        pages.append(pb.SearchResponse(hits=batch))
    return pages
