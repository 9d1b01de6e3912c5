"""Engine.search against the real engine: ranking, explain, filters, modes, access
counting, consistency through writes/evictions/restarts, and input validation."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from engine_helpers import NS, FakeClock, small_tiers

import memd
from memd import NewMemory, SearchFilter, SearchQuery, SearchWeights, Tier, pack_embedding

RELEVANCE_ONLY = SearchWeights(relevance=1.0, recency=0.0, frequency=0.0, importance=0.0)


def put(eng: memd.Engine, *items: NewMemory) -> None:
    results = eng.put_many(NS, list(items))
    assert all(r.error is None for r in results)


def keys(eng: memd.Engine, **query: object) -> list[str]:
    return [h.key for h in eng.search(SearchQuery(NS, **query))]  # type: ignore[arg-type]


def vec(*xs: float) -> bytes:
    return pack_embedding(xs)


@pytest.fixture
def facts(engine: memd.Engine) -> memd.Engine:
    put(
        engine,
        NewMemory(key="colour", text="The user's favourite colour is blue", embedding=vec(1, 0, 0)),
        NewMemory(key="city", text="The user lives in Lisbon, Portugal", embedding=vec(0, 1, 0)),
        NewMemory(
            key="whale", text="Blue whales are the largest animals", embedding=vec(0.7, 0, 0.7)
        ),
        NewMemory(key="meeting", text="Meeting with the design team on Monday"),
    )
    return engine


def test_keyword_ranks_by_bm25_and_explains_the_score(facts: memd.Engine) -> None:
    hits = facts.search(SearchQuery(NS, "favourite blue colour"))
    assert [h.key for h in hits] == ["colour", "whale"]
    top = hits[0]
    e = top.explain
    assert 0 < e["keyword"] <= 1 and e["bm25"] > hits[1].explain["bm25"]
    assert e["relevance"] == e["keyword"]  # keyword mode
    parts = [e[f"{c}_part"] for c in ("relevance", "recency", "frequency", "importance")]
    assert sum(parts) == pytest.approx(top.score, abs=1e-6)
    assert e["relevance_part"] == pytest.approx(0.4 * e["relevance"])
    assert e["importance_part"] == pytest.approx(0.1 * 0.5)
    assert top.memory.text == "The user's favourite colour is blue"


def test_keyword_relevance_is_bm25_over_the_query_idf(engine: memd.Engine) -> None:
    # One memory of average length containing the query term once: BM25 equals the
    # term's idf, so the normalised keyword relevance is exactly 1.
    put(engine, NewMemory(key="a", text="alpha"))
    (hit,) = engine.search(SearchQuery(NS, "alpha"))
    assert hit.explain["keyword"] == pytest.approx(1.0)
    assert hit.explain["bm25"] == pytest.approx(math.log(1 + 0.5 / 1.5), rel=1e-6)


def test_semantic_ranks_by_cosine_and_skips_memories_without_vectors(facts: memd.Engine) -> None:
    hits = facts.search(SearchQuery(NS, vector=vec(1, 0, 0.1), weights=RELEVANCE_ONLY))
    # Nearest first, as many as have vectors: the orthogonal city last, meeting has none.
    assert [h.key for h in hits] == ["colour", "whale", "city"]
    assert hits[2].explain["cosine"] == pytest.approx(0.0, abs=1e-6)
    assert hits[0].explain["cosine"] == pytest.approx(1 / 1.01**0.5, rel=1e-5)


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_hybrid_fuses_both_lists(facts: memd.Engine, fusion: str) -> None:
    hits = facts.search(
        SearchQuery(NS, "monday meeting", vector=vec(0, 1, 0), fusion=fusion)  # type: ignore[arg-type]
    )
    # The keyword match and the nearest vector lead; the other vectors follow.
    assert {h.key for h in hits[:2]} == {"meeting", "city"}
    assert {h.key for h in hits[2:]} == {"colour", "whale"}
    if fusion == "rrf":
        ranks = {h.key: (h.explain["keyword_rank"], h.explain["semantic_rank"]) for h in hits}
        assert ranks["meeting"] == (1, 0) and ranks["city"] == (0, 1)


def test_phrase_mode_needs_consecutive_words(engine: memd.Engine) -> None:
    put(
        engine,
        NewMemory(key="a", text="I moved to New-York city last year"),
        NewMemory(key="b", text="York is not new to me"),
    )
    assert keys(engine, text="new york", mode="phrase") == ["a"]
    assert sorted(keys(engine, text="new york", mode="keyword")) == ["a", "b"]


def test_cjk_and_thai_text_is_searchable(engine: memd.Engine) -> None:
    put(
        engine,
        NewMemory(key="ja", text="東京都に住んでいます"),
        NewMemory(key="th", text="ผู้ใช้ชอบกาแฟดำ"),
        NewMemory(key="en", text="coffee"),
    )
    assert keys(engine, text="東京") == ["ja"]
    assert keys(engine, text="กาแฟ") == ["th"]


def test_selective_filter_still_returns_k_hits(engine: memd.Engine) -> None:
    noise = [NewMemory(key=f"n{i:03}", text="apple apple apple") for i in range(200)]
    wanted = [NewMemory(key=f"w{i}", text="apple and more words", tags=["x"]) for i in range(5)]
    put(engine, *noise, *wanted)
    got = keys(engine, text="apple", k=5, filter=SearchFilter(tags_all=["x"]))
    assert sorted(got) == [f"w{i}" for i in range(5)]


def test_every_filter_field(engine: memd.Engine, clock: FakeClock) -> None:
    put(engine, NewMemory(key="old", text="note", tags=["a"], importance=0.2, tier=Tier.LONG_TERM))
    t1 = clock.advance(1_000)
    put(
        engine,
        NewMemory(
            key="new", text="note", tags=["a", "b"], metadata={"type": "fact"}, importance=0.9
        ),
    )
    clock.advance(1_000)

    def only(**f: object) -> list[str]:
        return sorted(keys(engine, text="note", filter=SearchFilter(**f)))  # type: ignore[arg-type]

    assert only() == ["new", "old"]
    assert only(tiers=[Tier.LONG_TERM]) == ["old"]
    assert only(tags_all=["a", "b"]) == ["new"]
    assert only(tags_any=["b", "zzz"]) == ["new"]
    assert only(tags_any=["zzz"]) == []
    assert only(metadata={"type": "fact"}) == ["new"]
    assert only(metadata={"type": "other"}) == []
    assert only(importance_min=0.5) == ["new"]
    assert only(importance_max=0.5) == ["old"]
    assert only(created_after_ms=t1) == ["new"]
    assert only(created_before_ms=t1) == ["old"]
    engine.get(NS, "old")  # last access moves to now
    assert only(accessed_before_ms=t1) == []
    assert only(accessed_after_ms=t1 + 1) == ["old"]


def test_recency_half_life_and_origin(engine: memd.Engine, clock: FakeClock) -> None:
    put(engine, NewMemory(key="old", text="same words"))
    clock.advance(3_600_000)
    put(engine, NewMemory(key="new", text="same words"))
    hour = SearchWeights(relevance=0.0, recency=1.0, frequency=0.0, importance=0.0)
    hits = engine.search(SearchQuery(NS, "same", weights=hour, half_life_ms=3_600_000))
    assert [(h.key, round(h.score, 6)) for h in hits] == [("new", 1.0), ("old", 0.5)]
    clock.advance(60_000)
    engine.get(NS, "old")  # a read refreshes last access, not creation
    assert keys(engine, text="same", weights=hour)[0] == "old"
    assert keys(engine, text="same", weights=hour, recency_from="created")[0] == "new"


def test_frequency_grows_with_accesses(engine: memd.Engine) -> None:
    put(engine, NewMemory(key="a", text="topic"), NewMemory(key="b", text="topic"))
    engine.get_many(NS, ["b", "b", "b"])
    freq = SearchWeights(relevance=0.0, recency=0.0, frequency=1.0, importance=0.0)
    hits = engine.search(SearchQuery(NS, "topic", weights=freq, frequency_saturation=3))
    assert [(h.key, h.score) for h in hits] == [("b", 1.0), ("a", 0.0)]


def test_search_can_count_as_access_and_promote(
    make_engine: Callable[..., memd.Engine],
) -> None:
    eng = make_engine(small_tiers())
    put(eng, NewMemory(key="k", text="promote me", tier=Tier.LONG_TERM))
    assert eng.search(SearchQuery(NS, "promote"))[0].memory.access_count == 0  # not counted
    for n in (1, 2):
        hit = eng.search(SearchQuery(NS, "promote", count_access=True))[0]
        assert hit.memory.access_count == n and hit.memory.tier == Tier.LONG_TERM
    hit = eng.search(SearchQuery(NS, "promote", count_access=True))[0]
    assert hit.memory.tier == Tier.SHORT_TERM  # third read within the window
    assert keys(eng, text="promote", filter=SearchFilter(tiers=[Tier.SHORT_TERM])) == ["k"]


def test_index_follows_overwrite_delete_eviction_expiry_and_drop(
    make_engine: Callable[..., memd.Engine], clock: FakeClock
) -> None:
    eng = make_engine(small_tiers(working=2, short=2, long=0, archive=2))
    put(eng, NewMemory(key="k", text="alpha"))
    put(eng, NewMemory(key="k", text="beta"))
    assert keys(eng, text="alpha") == [] and keys(eng, text="beta") == ["k"]
    assert eng.delete_many(NS, ["k"]) == [True]
    assert keys(eng, text="beta") == []
    put(eng, *[NewMemory(key=f"w{i}", text="gamma", tier=Tier.WORKING) for i in range(4)])
    by_tier = {
        t: keys(eng, text="gamma", filter=SearchFilter(tiers=[t]))
        for t in (Tier.WORKING, Tier.SHORT_TERM)
    }
    assert len(by_tier[Tier.WORKING]) == 2 and len(by_tier[Tier.SHORT_TERM]) == 2
    put(eng, NewMemory(key="ttl", text="delta", ttl_ms=1_000))
    clock.advance(1_000)
    assert keys(eng, text="delta") == []  # expired, even before a sweep
    eng.drop_namespace(NS)
    assert keys(eng, text="gamma") == []


def test_index_is_rebuilt_at_reopen(
    make_engine: Callable[..., memd.Engine], tmp_path: Path
) -> None:
    eng = make_engine(path=tmp_path / "reopen")
    put(eng, NewMemory(key="a", text="persisted words", embedding=vec(1, 2), tags=["t"]))
    before = [(h.key, h.score) for h in eng.search(SearchQuery(NS, "words", vector=vec(1, 2)))]
    eng.close()
    again = make_engine(path=tmp_path / "reopen")
    hits = again.search(
        SearchQuery(NS, "words", vector=vec(1, 2), filter=SearchFilter(tags_all=["t"]))
    )
    assert [(h.key, h.score) for h in hits] == before


def test_unknown_namespace_has_no_hits(engine: memd.Engine) -> None:
    assert engine.search(SearchQuery("nobody", "anything")) == []


BAD: Sequence[SearchQuery] = [
    SearchQuery(NS),  # neither text nor vector
    SearchQuery(NS, "!!! ..."),  # no searchable words
    SearchQuery(NS, " ".join(f"w{i}" for i in range(1025))),  # too many distinct words
    SearchQuery(NS, "x", k=0),
    SearchQuery(NS, "x", k=10_001),
    SearchQuery(NS, "x", k=-1),
    SearchQuery(NS, vector=vec(1, 2)),  # the namespace is 3-d
    SearchQuery(NS, vector=vec(float("nan"), 0, 0)),
    SearchQuery(NS, vector=vec(0, 0, 0)),
    SearchQuery(NS, vector=b"\x00\x00"),
    SearchQuery(NS, "x", mode="semantic"),  # no vector
    SearchQuery(NS, "x", mode="hybrid"),
    SearchQuery(NS, "x", mode="fuzzy"),  # type: ignore[arg-type]
    SearchQuery(NS, "x", fusion="max"),  # type: ignore[arg-type]
    SearchQuery(NS, "x", filter=SearchFilter(tiers=[0])),
    SearchQuery(NS, "x", filter=SearchFilter(tiers=[5])),
    SearchQuery(NS, "x", filter=SearchFilter(importance_min=0.9, importance_max=0.1)),
    SearchQuery(NS, "x", filter=SearchFilter(created_after_ms=-1)),
    SearchQuery(NS, "x", weights=SearchWeights(0, 0, 0, 0)),
    SearchQuery(NS, "x", weights=SearchWeights(relevance=float("nan"))),
    SearchQuery(NS, "x", half_life_ms=0),
    SearchQuery(NS, "x", keyword_weight=2.0),
    SearchQuery(NS, "x", bm25_b=1.5),
    SearchQuery("", "x"),
]


@pytest.mark.parametrize("query", BAD)
def test_bad_input_is_rejected_and_changes_nothing(facts: memd.Engine, query: SearchQuery) -> None:
    before = facts.get_many(NS, ["colour"], count_access=False)[0]
    with pytest.raises(memd.InvalidArgument):
        facts.search(query)
    after = facts.get_many(NS, ["colour"], count_access=False)[0]
    assert before is not None and after is not None
    assert (after.access_count, after.last_access_ms) == (
        before.access_count,
        before.last_access_ms,
    )


def test_hits_carry_their_vector_only_when_asked(facts: memd.Engine) -> None:
    for query in (SearchQuery(NS, "blue"), SearchQuery(NS, vector=vec(1, 0, 0), k=3)):
        hits = facts.search(query)
        assert hits and all(h.memory.embedding is None for h in hits)
        full = facts.search(dataclasses.replace(query, include_embedding=True))
        assert [h.key for h in full] == [h.key for h in hits]
        (stored,) = facts.get_many(NS, [full[0].key], count_access=False)
        assert stored is not None and full[0].memory.embedding == stored.embedding
        assert full[0].memory.embedding is not None
        assert [h.memory.text for h in full] == [h.memory.text for h in hits]
    # Batches too, per query.
    plain, asked = facts.search_batch(
        [SearchQuery(NS, "blue"), SearchQuery(NS, "blue", include_embedding=True)]
    )
    assert [h.memory.embedding for h in plain] == [None, None]
    assert all(h.memory.embedding for h in asked)
