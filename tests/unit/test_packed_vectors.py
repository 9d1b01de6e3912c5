"""Packed vectors (record format 2): a record refers to a slot in the ``vectors``
database, which ``tests/witness.py`` decodes independently with py-lmdb. Every way
a memory goes away frees its slot; groups belong to one namespace; backup and
restore carry the vectors.
"""

from __future__ import annotations

from engine_helpers import small_tiers
from witness import run_in_subprocess

from memd import NewMemory, pack_embedding
from memd.restore import restore, verify

DIM = 384


def vec(i: int) -> list[float]:
    """A 384-d vector exactly representable in f32, different for each ``i``."""
    return [((i * 13 + j) % 11 - 5) / 4.0 for j in range(DIM)]


def item(i: int, **fields) -> NewMemory:
    return NewMemory(key=f"k{i:02}", text=f"memory {i}", embedding=pack_embedding(vec(i)), **fields)


def slots(path) -> dict[str, int]:
    return run_in_subprocess(path, values="none")["vector_slots"]


def test_vectors_pack_five_to_a_group_and_read_back(make_engine, tmp_path):
    eng = make_engine()
    eng.put_many("a", [item(i) for i in range(12)])
    assert [eng.get("a", f"k{i:02}").vector() for i in range(12)] == [vec(i) for i in range(12)]
    eng.close()
    dump = run_in_subprocess(tmp_path / "store", values="none")
    # 384-d: five vectors to a two-page group, so 12 take three groups, one not full.
    assert dump["vector_slots"] == {"used": 12, "groups": 3, "free_groups": 1}
    assert {k: r["embedding"] for k, r in dump["memories"]["a"].items()} == {
        f"k{i:02}": vec(i) for i in range(12)
    }
    assert all(r["record_len"] < 300 for r in dump["memories"]["a"].values())


def test_every_way_out_frees_the_slot(make_engine, clock, tmp_path):
    eng = make_engine(small_tiers(0, 0, 0, 4))  # ARCHIVE holds 4: a fifth evicts
    eng.put_many("a", [item(i, tier=4) for i in range(4)])
    eng.put_many("a", [item(9, tier=4, ttl_ms=10)])  # evicts the least recently used
    clock.advance(20)
    assert eng.sweep().expired == 1  # expires k09
    assert eng.delete_many("a", ["k01"]) == [True]
    # Rewritten with a new vector (same slot), and without one (slot freed).
    eng.put("a", NewMemory(key="k02", text="new", embedding=pack_embedding(vec(50)), tier=4))
    eng.put("a", NewMemory(key="k03", text="no vector", tier=4))
    assert eng.get("a", "k02").vector() == vec(50)
    assert eng.get("a", "k03").embedding is None
    eng.close()
    dump = run_in_subprocess(tmp_path / "store", values="none")
    assert sorted(dump["memories"]["a"]) == ["k02", "k03"]
    assert dump["vector_slots"]["used"] == 1
    assert verify(tmp_path / "store").problems == []
    # Freed slots are reused: five more fit in the groups already there.
    eng = make_engine(small_tiers(0, 0, 0, 0))
    eng.put_many("a", [item(i, tier=4) for i in range(20, 25)])
    eng.close()
    assert slots(tmp_path / "store")["used"] == 6
    assert slots(tmp_path / "store")["groups"] <= 2


def test_namespaces_never_share_a_group_and_drop_frees_theirs(make_engine, tmp_path):
    eng = make_engine()
    eng.put_many("a", [item(1)])
    eng.put_many("b", [item(2)])
    eng.put_many("c", [NewMemory(key="small", embedding=pack_embedding([1.0, 2.0]))])
    assert eng.get("b", "k02").vector() == vec(2)
    eng.close()
    assert slots(tmp_path / "store") == {"used": 3, "groups": 3, "free_groups": 3}
    eng = make_engine()
    assert eng.drop_namespace("b") == 1
    assert eng.get("a", "k01").vector() == vec(1)
    eng.close()
    assert slots(tmp_path / "store") == {"used": 2, "groups": 2, "free_groups": 2}


def test_backup_and_restore_carry_the_vectors(make_engine, tmp_path):
    eng = make_engine()
    eng.put_many("a", [item(i) for i in range(7)])
    eng.backup(tmp_path / "backup")
    eng.close()
    check = restore(tmp_path / "backup", tmp_path / "restored")
    assert check.problems == []
    eng = make_engine(path=tmp_path / "restored")
    assert [eng.get("a", f"k{i:02}").vector() for i in range(7)] == [vec(i) for i in range(7)]
    # The restored store keeps working: a rewrite, a delete, a new memory.
    eng.put_many("a", [item(3), item(8)])
    eng.delete_many("a", ["k00"])
    eng.close()
    assert slots(tmp_path / "restored")["used"] == 7
    assert verify(tmp_path / "restored").problems == []
