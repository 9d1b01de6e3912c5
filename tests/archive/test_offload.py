"""The object-storage archive through a real daemon and a real S3 server (s3s-fs):
offload, read back, restart, promotion, key rotation, and what is encrypted.

Offloading is checked independently of memd's code: the objects are files in the
server's bucket directory (sealed: no value in clear), and after the daemon stops,
the Python ``lmdb`` package reads the records' flags (bit 1: offloaded).
"""

from __future__ import annotations

import os
from pathlib import Path

import lmdb
from memd_client import Client, DataLoss, Tier

from .conftest import StartArchived, new_key, wait_offloaded
from .s3server import S3Server

MARKER = b"archive-plaintext-marker"


def values(n: int) -> list[bytes]:
    """Distinct, compressible values that carry a marker a test can look for."""
    return [MARKER + f"-{i:04d}-".encode() + os.urandom(8).hex().encode() * 40 for i in range(n)]


def store_archived(c: Client, ns: str, vals: list[bytes], **extra: object) -> list[str]:
    items = [
        {
            "key": f"k{i:04d}",
            "text": f"archived fact {i}",
            "value": v,
            "tier": Tier.ARCHIVE,
            **extra,
        }
        for i, v in enumerate(vals)
    ]
    return c.store(ns, items).keys


def key_id(path: Path) -> bytes:
    """The key id sealed into an object file (docs/archive.md, object format)."""
    sealed = path.read_bytes()
    return sealed[10 : 10 + sealed[9]]


def offloaded_flags(data_dir: Path, ns: str) -> dict[str, bool]:
    """Key -> whether its record says offloaded, read with py-lmdb (daemon stopped)."""
    env = lmdb.open(str(data_dir), max_dbs=8, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            db = env.open_db(b"memories", txn=txn, create=False)
            prefix = ns.encode() + b"\0"
            out = {}
            for k, record in txn.cursor(db):
                if k.startswith(prefix):
                    out[k[len(prefix) :].decode()] = bool(record[2] & 2)
            return out
    finally:
        env.close()


def test_offloaded_values_read_back_and_survive_a_restart(
    start_archived: StartArchived, s3: S3Server, ns: str, tmp_path: Path
) -> None:
    daemon = start_archived()
    vals = values(40)
    with Client(daemon.address) as c:
        keys = store_archived(c, ns, vals)
        c.store(ns, [{"key": "hot", "text": "a working memory", "value": MARKER}])
        wait_offloaded(daemon, len(vals))
        got = c.get(ns, keys, peek=True)
        assert [got[k].value for k in keys] == vals  # type: ignore[union-attr]
        listed = list(c.list(ns, tier=Tier.ARCHIVE))  # List fetches values too
        assert [(m.key, m.value) for m in listed] == list(zip(keys, vals, strict=True))
    objects = s3.objects()
    assert objects, "no object in the bucket"
    for path in objects:
        sealed = path.read_bytes()
        assert sealed.startswith(b"MEMDARC1")
        assert MARKER not in sealed and b"archived fact" not in sealed
    daemon.close()
    flags = offloaded_flags(tmp_path / "data", ns)
    assert all(flags[k] for k in keys) and not flags["hot"], flags

    again = start_archived()
    with Client(again.address) as c:
        got = c.get(ns, keys, peek=True)
        assert [got[k].value for k in keys] == vals  # type: ignore[union-attr]
        hits = list(c.search(ns, "archived fact 7", limit=3))
        assert hits and hits[0].memory.value in vals


def test_search_filters_and_stats_need_no_fetch(
    start_archived: StartArchived, s3: S3Server, ns: str
) -> None:
    daemon = start_archived()
    with Client(daemon.address) as c:
        keys = store_archived(c, ns, values(10), tags=["old"])
        wait_offloaded(daemon, 10)
        s3.stop()
        stats = c.stats(ns)
        archive = next(t for t in stats.namespaces[ns].tiers if t.tier == Tier.ARCHIVE)
        assert archive.count == 10
        # With the store down, what needs no value keeps working.
        assert c.delete(ns, keys[:2]) == 2
        c.store(ns, [{"key": "fresh", "text": "archived fact fresh", "value": b"v"}])
        hits = list(c.search(ns, "fresh", limit=1))
        assert [h.memory.key for h in hits] == ["fresh"]


def test_a_read_that_promotes_brings_the_value_back_local(
    start_archived: StartArchived, s3: S3Server, ns: str
) -> None:
    daemon = start_archived()
    vals = values(3)
    with Client(daemon.address) as c:
        keys = store_archived(c, ns, vals, importance=0.95)  # importance promotes on read
        wait_offloaded(daemon, 3)
        first = c.get(ns, [keys[0]])[keys[0]]
        assert first is not None and first.value == vals[0]
        assert first.tier == Tier.LONG_TERM
        s3.stop()  # the promoted memory no longer needs the store
        again = c.get(ns, [keys[0]], peek=True)[keys[0]]
        assert again is not None and again.value == vals[0] and again.tier == Tier.LONG_TERM


def test_key_rotation_keeps_old_objects_readable_with_the_old_key(
    start_archived: StartArchived, s3: S3Server, ns: str, key_file: Path, tmp_path: Path
) -> None:
    daemon = start_archived()
    old_vals = values(5)
    with Client(daemon.address) as c:
        old_keys = store_archived(c, ns, old_vals)
        wait_offloaded(daemon, 5)
    daemon.close()
    (old_object,) = s3.objects()

    key_b = new_key(tmp_path / "archive-b.key")
    rotated = start_archived("--archive-old-key-files", str(key_file), key=key_b)
    with Client(rotated.address) as c:
        got = c.get(ns, old_keys, peek=True)
        assert [got[k].value for k in old_keys] == old_vals  # type: ignore[union-attr]
        new_vals = values(4)
        new_keys = [
            c.store(ns, [{"key": f"new{i}", "value": v, "tier": Tier.ARCHIVE}]).keys[0]
            for i, v in enumerate(new_vals)
        ]
        wait_offloaded(rotated, 4)
    rotated.close()
    new_objects = [p for p in s3.objects() if p != old_object]
    assert new_objects
    assert {key_id(p) for p in new_objects} == {key_id(new_objects[0])} != {key_id(old_object)}

    forgot = start_archived(key=key_b)  # the old key is no longer listed
    with Client(forgot.address) as c:
        got = c.get(ns, new_keys, peek=True)
        assert [got[k].value for k in new_keys] == new_vals  # type: ignore[union-attr]
        try:
            c.get(ns, [old_keys[0]], peek=True)
        except DataLoss as exc:
            assert "key id" in str(exc) and old_keys[0] in str(exc), exc
        else:
            raise AssertionError("an object sealed with an unlisted key was read")
