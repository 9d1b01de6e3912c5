"""A ``SearchOp`` as memd calls, over the namespaces under its prefix.

memd searches one namespace per call, so a search over a prefix makes one Search per
memd namespace under it and merges the hits.

**Without a query** (or with one, in ``semantic`` mode, when the store has no embedding
function: LangGraph then ignores the query too) items come in namespace order, then key
order, read with List until ``offset + limit`` items have passed the filter. LangGraph
leaves this order open (``InMemoryStore`` returns insertion order, the Postgres store
the last updated first); key order is the one memd can page through without reading
everything.

**With a query** (``semantic``, the default): the query is embedded and each namespace
answers a Search ranked by cosine alone (weights: relevance 1, so recency, frequency
and importance play no part), filtered natively by metadata (``filters.split``). The
score is the cosine, as in ``InMemoryStore``, and hits are merged by it. memd clamps
relevance at 0, and a post-filter (the filter parts memd cannot test) may drop hits,
so when a full page of hits cannot prove it holds the namespace's best ``offset +
limit`` matches, that namespace is read whole and ranked here instead (exact, slower).
As ``InMemoryStore`` does, when fewer than ``limit`` ranked items are found, items
without an embedding (stored with ``index=False``, or with no text at the fields) fill
the rest, unscored.

``keyword`` (BM25 over the memory text) and ``hybrid`` (memd's fusion of BM25 and
cosine) modes are memd's own: only memories matching the query are returned, scored
by memd's relevance, from at most the best 1 000 hits per namespace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import Item, SearchItem, SearchOp

from memd_client._types import Hit, Memory
from memd_client.langgraph import filters, values
from memd_client.langgraph.calls import Call, Plan, Select
from memd_client.langgraph.namespaces import Namespace
from memd_client.langgraph.settings import Settings

RPC_LIMIT = 1000  # memd's most hits per Search


@dataclass(slots=True)
class _Candidate:
    item: Item
    score: float | None  # what results are ranked by: the cosine, or memd's score
    floor: float = 0.0  # memd's score (clamped at 0), to judge a page's completeness


Spaces = Sequence[tuple[Namespace, str]]


def search_plan(s: Settings, op: SearchOp, spaces: Spaces) -> Plan[list[SearchItem]]:
    """The results of ``op`` over ``spaces`` (``NamespaceCodec.under``)."""
    if op.limit == 0 or not spaces:
        return []
    want = op.offset + op.limit
    # Keyword search needs a word (memd refuses a query of punctuation alone); such a
    # query is treated like an empty one.
    wordless = s.mode == "keyword" and not any(ch.isalnum() for ch in op.query or "")
    if not op.query or (s.mode == "semantic" and s.dims is None) or wordless:
        items = yield from _listing(spaces, op.filter, want, unembedded=False)
        return [values.to_search_item(i, None) for i in items[op.offset :]]

    query: list[float] | None = None
    if s.mode != "keyword":
        [query] = yield [Call("embed_query", (op.query,))]
        s.check_vectors([query], 1)
    native = filters.split(op.filter)
    size = min(RPC_LIMIT, want if filters.is_native(op.filter) else max(4 * want, 100))
    metas = [native, {filters.OVERFLOW_KEY: "1"}] if native else [native]
    kwargs = [_search_kwargs(s, op.query, query, meta, size) for meta in metas]
    replies = yield [Call("search", (name,), kw) for _, name in spaces for kw in kwargs]

    ranked: list[_Candidate] = []
    rescan: list[tuple[Namespace, str]] = []
    for n, (namespace, name) in enumerate(spaces):
        pages: list[list[Hit]] = replies[n * len(metas) : (n + 1) * len(metas)]
        kept = _kept(s, namespace, op.filter, pages)
        if s.mode == "semantic" and not _complete(kept, pages, size, want):
            rescan.append((namespace, name))
        else:
            ranked.extend(kept)
    unranked: dict[str, list[Item]] = {}
    if rescan:
        assert query is not None
        scans = yield [
            Call("scan", (name, _scorer(ns, op.filter, query), None)) for ns, name in rescan
        ]
        for (_, name), found in zip(rescan, scans, strict=True):
            ranked.extend(c for c in found if c.score is not None)
            unranked[name] = [c.item for c in found if c.score is None]
    ranked.sort(key=lambda c: (-(c.score or 0.0), c.item.namespace, c.item.key))
    page = [values.to_search_item(c.item, c.score) for c in ranked[op.offset : want]]
    if s.mode == "semantic" and len(page) < op.limit:
        fill = yield from _listing(spaces, op.filter, op.limit - len(page), True, unranked)
        page.extend(values.to_search_item(i, None) for i in fill)
    return page


def _search_kwargs(
    s: Settings, text: str, query: list[float] | None, metadata: dict[str, str], size: int
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "limit": size,
        "metadata": metadata,
        "weights": {"relevance": 1.0},  # rank by relevance alone, as LangGraph does
        "explain": s.mode == "semantic",  # for the raw cosine
        "mode": s.mode,
    }
    if query is not None:
        kwargs["embedding"] = query
    if s.mode != "semantic":
        kwargs["query"] = text
    return kwargs


def _kept(
    s: Settings, namespace: Namespace, filter: dict[str, Any] | None, pages: list[list[Hit]]
) -> list[_Candidate]:
    """The hits of one namespace's pages that pass the whole filter, each item once."""
    seen: set[str] = set()
    kept = []
    for hits in pages:
        for hit in hits:
            if hit.memory.key in seen:
                continue
            seen.add(hit.memory.key)
            item = values.to_item(namespace, hit.memory)
            if filters.matches(item.value, filter):
                score = hit.explain["cosine"] if s.mode == "semantic" and hit.explain else hit.score
                kept.append(_Candidate(item, score, hit.score))
    return kept


def _complete(kept: list[_Candidate], pages: list[list[Hit]], size: int, want: int) -> bool:
    """Whether ``kept`` surely holds the namespace's best ``want`` matches.

    A page shorter than ``size`` held every eligible memory. A full page held the
    best ``size`` by memd's score; what it left out scores at most its lowest score,
    in no defined order at 0 (cosine clamped). So it is enough when the ``want``-th
    best kept score is positive and not below the lowest score of any full page.
    """
    floors = [min(h.score for h in hits) for hits in pages if len(hits) >= size]
    if not floors:
        return True
    if len(kept) < want:
        return False
    threshold = sorted((c.floor for c in kept), reverse=True)[want - 1]
    return threshold > 0 and all(f <= threshold for f in floors)


def _scorer(namespace: Namespace, filter: dict[str, Any] | None, query: list[float]) -> Select:
    def select(memory: Memory) -> _Candidate | None:
        item = values.to_item(namespace, memory)
        if not filters.matches(item.value, filter):
            return None
        score = cosine(query, memory.embedding) if memory.embedding else None
        return _Candidate(item, score)

    return select


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 when either vector is zero (as InMemoryStore)."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norms if norms else 0.0


def _listing(
    spaces: Spaces,
    filter: dict[str, Any] | None,
    want: int,
    unembedded: bool,
    known: dict[str, list[Item]] | None = None,
) -> Plan[list[Item]]:
    """The first ``want`` items passing ``filter``, in namespace then key order.

    With ``unembedded``, only items without an embedding; ``known`` holds what was
    already read of some namespaces (by memd name).
    """
    found: list[Item] = []
    for namespace, name in spaces:
        need = want - len(found)
        if need <= 0:
            break
        if known is not None and name in known:
            found.extend(known[name][:need])
            continue
        [got] = yield [Call("scan", (name, _selector(namespace, filter, unembedded), need))]
        found.extend(got)
    return found


def _selector(namespace: Namespace, filter: dict[str, Any] | None, unembedded: bool) -> Select:
    def select(memory: Memory) -> Item | None:
        if unembedded and memory.embedding:
            return None
        item = values.to_item(namespace, memory)
        return item if filters.matches(item.value, filter) else None

    return select
