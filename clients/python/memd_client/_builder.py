"""Request building, shared by the sync and the asyncio client.

Every request both clients send is made here, once. Store requests are encoded by
hand into protobuf bytes (``encode_memory``, ``store_request``) and sent through a
multi-callable that passes bytes through (``_rpc``): building a ``NewMemory`` message,
copying it into a ``StoreRequest`` and serializing that cost ``bulk_store`` more CPU per
memory than the daemon spends storing it (``bench/client_bench.py``). Items the fast
encoder does not handle byte for byte (an import's ``history``, a value of an
unexpected type) are built by the generated classes, which also raise their errors.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.types import MemoryHistory, Tier
from memd_client._types import (
    CosineScale,
    Embedding,
    Fusion,
    MemoryLike,
    NewMemory,
    PatternSyntax,
    SearchMode,
    pack_embedding,
)

MAX_BATCH = 10_000
"""Most memories per StoreStream batch the clients send (the server's default limit)."""

_MODES: dict[str, int] = {
    "auto": pb.SEARCH_MODE_UNSPECIFIED,
    "keyword": pb.SEARCH_MODE_KEYWORD,
    "semantic": pb.SEARCH_MODE_SEMANTIC,
    "hybrid": pb.SEARCH_MODE_HYBRID,
    "pattern": pb.SEARCH_MODE_PATTERN,
}
_SYNTAXES: dict[str, int] = {"glob": pb.PATTERN_SYNTAX_GLOB, "regex": pb.PATTERN_SYNTAX_REGEX}
_FUSIONS: dict[str, int] = {
    "default": pb.FUSION_UNSPECIFIED,
    "weighted": pb.FUSION_WEIGHTED,
    "rrf": pb.FUSION_RRF,
}
_SCALES: dict[str, int] = {
    "default": pb.COSINE_SCALE_UNSPECIFIED,
    "none": pb.COSINE_SCALE_NONE,
    "minmax": pb.COSINE_SCALE_MINMAX,
    "zscore": pb.COSINE_SCALE_ZSCORE,
}

# --- protobuf wire encoding of NewMemory and StoreRequest ---------------------------------
# Field numbers from proto/memd/v1: NewMemory key 1, text 2, value 3, embedding 4,
# tags 5, metadata 6 (map entries: key 1, value 2), importance 7 (double), priority 8
# (int32), ttl_ms 9 (uint64), tier 10 (enum), history 18, context 19 (string: tag byte
# 19 << 3 | 2 = 0x9a then 0x01, a two-byte varint); StoreRequest namespace 1,
# memories 2, atomic 3, batch_id 4. tests/clients/test_builder.py checks every encoding
# against the generated classes.

_FIELDS = frozenset(f.name for f in fields(NewMemory))
_TEXT_ONLY = frozenset(("key", "text"))
_BYTE = [bytes((i,)) for i in range(128)]
_DOUBLE = struct.Struct("<d").pack
_U64 = 1 << 64
_I32 = 1 << 31


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _BYTE[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: its tag, the length, the bytes."""
    n = len(data)
    return tag + (_BYTE[n] if n < 0x80 else _varint(n)) + data


def _slow(item: MemoryLike) -> bytes:
    """The generated classes' encoding (and their errors for bad input)."""
    data: bytes = new_memory(item).SerializeToString()
    return data


def encode_memory(item: MemoryLike) -> bytes:
    """The serialized ``NewMemory`` of a ``NewMemory`` or a dict of its fields.

    Raises:
        TypeError: An unknown field, or a field of the wrong type.
        ValueError: A number out of its field's range.
    """
    if type(item) is dict:
        if _TEXT_ONLY.issuperset(item):  # the bulk of an ingest: key and text alone
            key, text = item.get("key", ""), item.get("text", "")
            if type(key) is str and type(text) is str:
                return (_field(b"\x0a", key.encode()) if key else b"") + (
                    _field(b"\x12", text.encode()) if text else b""
                )
        if not _FIELDS.issuperset(item):
            return _slow(item)  # raises TypeError naming the unknown field
        get = item.get
        key, text, value, emb = get("key", ""), get("text", ""), get("value", b""), get("embedding")
        tags, metadata, importance = get("tags", ()), get("metadata"), get("importance")
        priority, ttl, tier = get("priority", 0), get("ttl_ms"), get("tier", 0)
        context = get("context", "")
        if get("history") is not None:
            return _slow(item)
    elif isinstance(item, NewMemory):
        if item.history is not None:
            return _slow(item)
        key, text, value, emb = item.key, item.text, item.value, item.embedding
        tags, metadata, importance = item.tags, item.metadata, item.importance
        priority, ttl, tier = item.priority, item.ttl_ms, item.tier
        context = item.context
    else:
        return _slow(item)
    if not (
        type(key) is str
        and type(text) is str
        and type(context) is str
        and type(value) is bytes
        and type(priority) is int
        and -_I32 <= priority < _I32
        and isinstance(tier, int)
        and 0 <= tier < _I32
        and (ttl is None or (type(ttl) is int and 0 <= ttl < _U64))
        and (importance is None or type(importance) in (float, int))
        and not isinstance(tags, str | bytes)
    ):
        return _slow(item)
    out = [_field(b"\x0a", key.encode())] if key else []
    if text:
        out.append(_field(b"\x12", text.encode()))
    if value:
        out.append(_field(b"\x1a", value))
    if emb is not None:
        packed = emb if type(emb) is bytes else pack_embedding(emb)
        if packed:
            out.append(_field(b"\x22", packed))
    for tag in tags:
        if type(tag) is not str:
            return _slow(item)
        out.append(_field(b"\x2a", tag.encode()))
    if metadata:
        if not isinstance(metadata, Mapping):
            return _slow(item)
        for k, v in metadata.items():
            if type(k) is not str or type(v) is not str:
                return _slow(item)
            out.append(_field(b"\x32", _field(b"\x0a", k.encode()) + _field(b"\x12", v.encode())))
    if importance is not None:
        out.append(b"\x39" + _DOUBLE(importance))
    if priority:
        out.append(b"\x40" + _varint(priority % _U64))  # negative int32: 10-byte varint
    if ttl is not None:
        out.append(b"\x48" + _varint(ttl))
    if tier:
        out.append(b"\x50" + _varint(int(tier)))
    if context:
        out.append(_field(b"\x9a\x01", context.encode()))
    return b"".join(out)


def store_request(
    namespace: str, memories: Iterable[MemoryLike], atomic: bool, batch_id: int = 0
) -> bytes:
    """The serialized ``StoreRequest`` of one batch."""
    return store_request_of(namespace, [encode_memory(m) for m in memories], atomic, batch_id)


def store_request_of(namespace: str, encoded: list[bytes], atomic: bool, batch_id: int) -> bytes:
    """A serialized ``StoreRequest`` around already encoded memories."""
    head = _field(b"\x0a", namespace.encode()) if namespace else b""
    tail = (b"\x18\x01" if atomic else b"") + (b"\x20" + _varint(batch_id) if batch_id else b"")
    return head + b"".join([_field(b"\x12", m) for m in encoded]) + tail


def check_batch_size(batch_size: int) -> None:
    """Refuse a ``bulk_store`` batch size outside [1, ``MAX_BATCH``]."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be in [1, {MAX_BATCH}], got {batch_size}")


def batches(
    namespace: str, memories: Iterable[MemoryLike], batch_size: int, atomic: bool
) -> Iterator[bytes]:
    """Serialized StoreRequests of at most ``batch_size`` memories, batch_id 0, 1, 2..."""
    check_batch_size(batch_size)
    batch: list[bytes] = []
    batch_id = 0
    for item in memories:
        batch.append(encode_memory(item))
        if len(batch) == batch_size:
            yield store_request_of(namespace, batch, atomic, batch_id)
            batch, batch_id = [], batch_id + 1
    if batch:
        yield store_request_of(namespace, batch, atomic, batch_id)


# --- the generated classes -------------------------------------------------------------


def new_memory(item: MemoryLike) -> mpb.NewMemory:
    """The NewMemory message of a ``NewMemory`` or a dict of its fields."""
    m = item if isinstance(item, NewMemory) else NewMemory(**item)
    emb = m.embedding
    return mpb.NewMemory(
        key=m.key,
        text=m.text,
        value=m.value,
        embedding=b"" if emb is None else emb if isinstance(emb, bytes) else pack_embedding(emb),
        tags=list(m.tags) or None,
        metadata=dict(m.metadata) or None,
        importance=m.importance,
        priority=m.priority,
        ttl_ms=m.ttl_ms,
        tier=int(m.tier),  # type: ignore[arg-type]
        history=None if m.history is None else _history(m.history),
        context=m.context,
    )


def _history(h: MemoryHistory | Mapping[str, int]) -> mpb.MemoryHistory:
    past = h if isinstance(h, MemoryHistory) else MemoryHistory(**h)
    return mpb.MemoryHistory(
        created_ms=past.created_ms,
        updated_ms=past.updated_ms,
        last_access_ms=past.last_access_ms,
        access_count=past.access_count,
        version=past.version,
        expires_at_ms=past.expires_at_ms,
    )


def retrieve_request(namespace: str, keys: Iterable[str], peek: bool) -> pb.RetrieveRequest:
    """A RetrieveRequest."""
    return pb.RetrieveRequest(namespace=namespace, keys=list(keys), peek=peek)


def delete_request(namespace: str, keys: Iterable[str]) -> pb.DeleteRequest:
    """A DeleteRequest."""
    return pb.DeleteRequest(namespace=namespace, keys=list(keys))


def clear_request(namespace: str, tier: Tier | int) -> pb.ClearRequest:
    """A ClearRequest of one tier (UNSPECIFIED: all)."""
    return pb.ClearRequest(namespace=namespace, tier=int(tier))  # type: ignore[arg-type]


def stats_request(namespace: str | None) -> pb.StatsRequest:
    """A StatsRequest of one namespace, or all."""
    return pb.StatsRequest(namespace=namespace or "")


def search_request(
    namespace: str,
    *,
    query: str = "",
    phrase: str = "",
    embedding: Embedding | None = None,
    limit: int = 10,
    tiers: Iterable[Tier | int] = (),
    tags_all: Iterable[str] = (),
    tags_any: Iterable[str] = (),
    metadata: Mapping[str, str] | None = None,
    min_importance: float | None = None,
    max_importance: float | None = None,
    created_after_ms: int = 0,
    created_before_ms: int = 0,
    accessed_after_ms: int = 0,
    accessed_before_ms: int = 0,
    weights: Mapping[str, float] | None = None,
    recency_half_life_ms: int = 0,
    recency_from_created: bool = False,
    count_access: bool = False,
    explain: bool = False,
    mode: SearchMode = "auto",
    fusion: Fusion = "default",
    pattern: str = "",
    pattern_syntax: PatternSyntax = "glob",
    pattern_ignore_case: bool = False,
    exact: bool = False,
    include_embedding: bool = False,
    fuzzy: bool = False,
    keyword_weight: float | None = None,
    cosine_scale: CosineScale = "default",
    rrf_depth: int = 0,
) -> pb.SearchRequest:
    """A SearchRequest; see ``Client.search`` for the arguments."""
    if mode not in _MODES or fusion not in _FUSIONS or pattern_syntax not in _SYNTAXES:
        raise ValueError(
            f"unknown mode {mode!r}, fusion {fusion!r} or pattern_syntax {pattern_syntax!r}"
        )
    if cosine_scale not in _SCALES:
        raise ValueError(f"unknown cosine_scale {cosine_scale!r} (valid: {', '.join(_SCALES)})")
    emb = b"" if embedding is None else embedding
    # Glob is the server's default too: left unset, so that a batch query naming no
    # syntax keeps the shared one.
    syntax = _SYNTAXES[pattern_syntax] if pattern_syntax != "glob" else 0
    return pb.SearchRequest(
        namespace=namespace,
        query=query,
        phrase=phrase,
        embedding=emb if isinstance(emb, bytes) else pack_embedding(emb),
        limit=limit,
        tiers=[int(t) for t in tiers],  # type: ignore[misc]
        tags_all=list(tags_all),
        tags_any=list(tags_any),
        metadata=dict(metadata or {}),
        min_importance=min_importance,
        max_importance=max_importance,
        created_after_ms=created_after_ms,
        created_before_ms=created_before_ms,
        accessed_after_ms=accessed_after_ms,
        accessed_before_ms=accessed_before_ms,
        weights=pb.ScoreWeights(**weights) if weights is not None else None,
        recency_half_life_ms=recency_half_life_ms,
        recency_from_created=recency_from_created,
        count_access=count_access,
        explain=explain,
        mode=_MODES[mode],  # type: ignore[arg-type]
        fusion=_FUSIONS[fusion],  # type: ignore[arg-type]
        pattern=pattern,
        pattern_syntax=syntax,  # type: ignore[arg-type]
        pattern_ignore_case=pattern_ignore_case,
        exact=exact,
        include_embedding=include_embedding,
        fuzzy=fuzzy,
        keyword_weight=keyword_weight,
        cosine_scale=_SCALES[cosine_scale],  # type: ignore[arg-type]
        rrf_depth=rrf_depth,
    )


def list_request(
    namespace: str,
    tier: Tier | int,
    page_size: int,
    page_token: str,
    reverse: bool,
    created_after_ms: int,
    created_before_ms: int,
) -> pb.ListRequest:
    """A ListRequest for one page."""
    return pb.ListRequest(
        namespace=namespace,
        tier=int(tier),  # type: ignore[arg-type]
        page_size=page_size,
        page_token=page_token,
        reverse=reverse,
        created_after_ms=created_after_ms,
        created_before_ms=created_before_ms,
    )
