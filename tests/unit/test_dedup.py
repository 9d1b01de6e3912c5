"""Dedup on store: identical texts merge into the existing memory, near-duplicate
embeddings merge or are flagged; checked against a plain model of "first key per text"."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import memd
from memd import InvalidArgument, pack_embedding
from memd.types import LifecycleOptions, NewMemory
from tests.engine_helpers import NS, FakeClock, counter, list_all


def dedup(**fields: object) -> memd.EngineOptions:
    return memd.EngineOptions(lifecycle=LifecycleOptions(dedup_exact=True, **fields))  # type: ignore[arg-type]


def test_identical_text_updates_the_existing_memory(make_engine, clock):
    eng = make_engine(dedup())
    (first,) = eng.put_many(NS, [NewMemory(key="a", text="likes tea", importance=0.4, tags=["x"])])
    clock.advance(10)
    (again,) = eng.put_many(
        NS, [NewMemory(key="b", text="likes tea", importance=0.9, tags=["y", "x"], value=b"new")]
    )
    assert (again.key, again.merged_into, again.version) == ("a", "a", 2)
    assert first.merged_into == ""
    m = eng.get_many(NS, ["a"], count_access=False)[0]
    assert m is not None and eng.get_many(NS, ["b"], count_access=False) == [None]
    # One more access, importance the larger, tags merged; the value stays.
    assert (m.access_count, m.importance, m.tags, m.value) == (
        1,
        pytest.approx(0.9),
        ["x", "y"],
        b"",
    )
    assert m.last_access_ms == clock.now_ms
    assert counter(eng, "dedup.merged") == 1


def test_rewriting_a_key_is_an_update_not_a_merge(make_engine):
    eng = make_engine(dedup())
    eng.put_many(NS, [NewMemory(key="a", text="one"), NewMemory(key="b", text="two")])
    (r,) = eng.put_many(NS, [NewMemory(key="b", text="one")])
    assert (r.key, r.merged_into) == ("b", "")
    assert sorted(m.text for m in list_all(eng)) == ["one", "one"]


def test_dedup_is_off_by_default_and_empty_text_never_merges(make_engine):
    eng = make_engine()
    eng.put_many(NS, [NewMemory(key="a", text="same"), NewMemory(key="b", text="same")])
    assert len(list_all(eng)) == 2
    eng2 = make_engine(dedup(), path=eng.path + "-2")
    results = eng2.put_many(NS, [NewMemory(value=b"1"), NewMemory(value=b"2")])
    assert [r.merged_into for r in results] == ["", ""]
    assert len(list_all(eng2, NS)) == 2


def test_an_expired_memory_is_not_a_merge_target(make_engine, clock):
    eng = make_engine(dedup())
    eng.put_many(NS, [NewMemory(key="a", text="t", ttl_ms=100)])
    clock.advance(100)
    (r,) = eng.put_many(NS, [NewMemory(key="b", text="t")])
    assert (r.key, r.merged_into) == ("b", "")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.sampled_from(["", "k1", "k2", "k3"])), max_size=25
    )
)
# Two keys come to share a text through an update; the merge goes to the first holder.
@example(batch=[("a", "k1"), ("b", ""), ("b", "k1"), ("b", "")])
# A key rewritten with the text it already holds keeps its place among the holders.
@example(batch=[("a", "k1"), ("b", "k2"), ("a", "k2"), ("a", "k1"), ("a", "")])
def test_dedup_merges_exactly_the_duplicates(tmp_path_factory, batch):
    """Model: a store of a text under a new (or empty) key merges into a memory that
    holds the text, the one that got it first; a store to an existing key updates it
    (so two keys can come to share a text, and the rewritten one gets it last, unless
    it already held that text: a put of the same content changes nothing of its
    place)."""
    clock = FakeClock()
    path = tmp_path_factory.mktemp("dedup") / "store"
    with memd.Engine(path, dedup(), clock=clock) as eng:
        texts: dict[str, str] = {}  # key -> text
        holders: dict[str, list[str]] = {}  # text -> keys, in the order they got it
        for text, key in batch:
            (r,) = eng.put_many(NS, [NewMemory(key=key, text=text)])
            if (not key or key not in texts) and holders.get(text):
                assert (r.merged_into, r.key) == (holders[text][0], holders[text][0])
            else:
                assert r.merged_into == ""
                if texts.get(r.key) != text:
                    if r.key in texts:
                        holders[texts[r.key]].remove(r.key)
                    texts[r.key] = text
                    holders.setdefault(text, []).append(r.key)
            clock.advance(1)
        assert {m.key: m.text for m in list_all(eng)} == texts


def test_near_duplicates_merge_or_flag(make_engine):
    close, far = pack_embedding([1.0, 0.0, 0.05]), pack_embedding([0.0, 1.0, 0.0])
    base = pack_embedding([1.0, 0.0, 0.0])
    eng = make_engine(dedup(dedup_near_threshold=0.99))
    eng.put_many(NS, [NewMemory(key="a", text="the sky is blue", embedding=base)])
    near, other = eng.put_many(
        NS,
        [
            NewMemory(key="b", text="sky: blue", embedding=close),
            NewMemory(key="c", text="grass is green", embedding=far),
        ],
    )
    assert (near.key, near.merged_into, other.merged_into) == ("a", "a", "")
    flag = make_engine(
        dedup(dedup_near_threshold=0.99, dedup_near_action="flag"), path=eng.path + "-f"
    )
    flag.put_many(NS, [NewMemory(key="a", text="the sky is blue", embedding=base)])
    (r,) = flag.put_many(NS, [NewMemory(key="b", text="sky: blue", embedding=close)])
    assert (r.key, r.merged_into, r.similar_to) == ("b", "", "a")
    assert len(list_all(flag)) == 2 and counter(flag, "dedup.flagged") == 1


def test_bad_dedup_options_are_rejected(make_engine):
    with pytest.raises(InvalidArgument, match="dedup_near_threshold"):
        make_engine(dedup(dedup_near_threshold=1.5))
    with pytest.raises(InvalidArgument, match="dedup_near_action"):
        make_engine(dedup(dedup_near_action="drop"))


@pytest.mark.parametrize("snapshot", [True, False], ids=["from-snapshot", "rebuilt"])
def test_a_reopened_store_still_merges_into_the_first_holder(tmp_path, snapshot):
    """The open rebuilds the text-hash index on a thread of its own (holders in key
    order): after a reopen, from the snapshot or rebuilt from LMDB, a new key with a
    stored text merges into the first key holding it, and other texts do not merge."""
    path = tmp_path / "store"
    with memd.Engine(path, dedup()) as eng:
        eng.put_many(NS, [NewMemory(key=k, text=f"text {k}") for k in ("a", "b", "c")])
        # "b" comes to hold "text a" too (a store to an existing key is an update).
        (r,) = eng.put_many(NS, [NewMemory(key="b", text="text a")])
        assert r.merged_into == ""
    if not snapshot:
        (path / "search.snapshot").unlink()
    with memd.Engine(path, dedup()) as eng:
        assert eng.open_report[0] is snapshot
        (dup,) = eng.put_many(NS, [NewMemory(key="d", text="text a")])
        (other,) = eng.put_many(NS, [NewMemory(key="e", text="text c")])
        (new,) = eng.put_many(NS, [NewMemory(key="f", text="text f")])
        assert (dup.merged_into, other.merged_into, new.merged_into) == ("a", "c", "")
        assert eng.get_many(NS, ["d", "e"], count_access=False) == [None, None]
