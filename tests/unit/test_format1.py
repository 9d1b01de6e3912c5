"""A store written by memd before packed vectors (record format 1, vectors inline)
opens and works with today's code, which reads both formats and writes format 2.

The fixture ``tests/fixtures/format1`` was written by ``tests/fixtures/make_format1.py``
with the code of main at 412d53a; ``expected.json`` is what that code read back.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import witness

from memd import NewMemory, SearchQuery, Tier, pack_embedding
from memd.restore import verify

FIXTURE = Path(__file__).parent.parent / "fixtures" / "format1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """A private copy of the format-1 fixture."""
    target = tmp_path / "store"
    target.mkdir()
    shutil.copy(FIXTURE / "data.mdb", target / "data.mdb")
    return target


def formats(path: Path) -> dict[str, int]:
    """Record format per key of ``agent:a``, read with py-lmdb (after the engine closed)."""
    import lmdb

    env = lmdb.open(str(path), readonly=True, lock=False, max_dbs=8)
    try:
        db = env.open_db(b"memories", create=False)
        with env.begin() as t:
            return {
                bytes(k).split(b"\x00", 1)[1].decode(): bytes(v)[0]
                for k, v in t.cursor(db)
                if bytes(k).startswith(b"agent:a\x00")
            }
    finally:
        env.close()


def test_fixture_is_format_one():
    assert set(formats(FIXTURE).values()) == {1}


def test_old_store_reads_searches_and_verifies(make_engine, old_store):
    eng = make_engine(path=old_store)
    for ns, memories in EXPECTED.items():
        for key, want in memories.items():
            got = eng.get(ns, key)
            assert got is not None, (ns, key)
            assert (got.text, got.value.hex(), got.tier) == (
                want["text"],
                want["value"],
                want["tier"],
            )
            assert got.vector() == want["embedding"]
            assert list(got.tags) == want["tags"]
    # The search index was rebuilt from inline vectors: each vector finds itself.
    v3 = EXPECTED["agent:a"]["v03"]["embedding"]
    hits = eng.search(SearchQuery(namespace="agent:a", vector=pack_embedding(v3), k=1))
    assert [h.memory.key for h in hits] == ["v03"]
    eng.close()
    check = verify(old_store)
    assert check.problems == [] and check.counts["memories"] == 15


def test_old_records_are_rewritten_in_format_two_and_both_coexist(make_engine, old_store):
    eng = make_engine(path=old_store)
    new_vector = [0.5] * 384
    eng.put("agent:a", NewMemory(key="v01", text="rewritten", embedding=pack_embedding(new_vector)))
    eng.put("agent:a", NewMemory(key="fresh", text="new", embedding=pack_embedding([0.25] * 384)))
    assert eng.delete_many("agent:a", ["v02"]) == [True]
    # A tier move of an old record keeps it in format 1 with its inline vector.
    eng.put(
        "agent:a",
        NewMemory(
            key="v04",
            text=EXPECTED["agent:a"]["v04"]["text"],
            tier=Tier.LONG_TERM,
            embedding=pack_embedding(EXPECTED["agent:a"]["v04"]["embedding"]),
        ),
    )
    assert eng.get("agent:a", "v01").vector() == new_vector
    eng.close()
    fmt = formats(old_store)
    assert (fmt["v00"], fmt["v01"], fmt["fresh"], fmt["v04"]) == (1, 2, 2, 2)
    assert "v02" not in fmt
    dump = witness.run_in_subprocess(old_store)
    a = dump["memories"]["agent:a"]
    assert (
        a["v01"]["embedding"] == new_vector
        and a["v00"]["embedding"] == EXPECTED["agent:a"]["v00"]["embedding"]
    )
    # Three format-2 vectors: v01, fresh, v04 (the old inline ones use no slot).
    assert dump["vector_slots"]["used"] == 3
    assert verify(old_store).problems == []
    eng = make_engine(path=old_store)
    assert eng.get("agent:a", "v00").vector() == EXPECTED["agent:a"]["v00"]["embedding"]
    assert eng.get("agent:a", "fresh").vector() == [0.25] * 384
    assert struct.unpack("<384f", eng.get("agent:a", "v04").embedding) == tuple(
        EXPECTED["agent:a"]["v04"]["embedding"]
    )
