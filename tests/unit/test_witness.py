"""The witness itself: it must decode the documented layout and reject anything else.

These run without the engine: records are encoded here by hand from the layout in
``tests/witness.py`` and written with plain py-lmdb.
"""

from __future__ import annotations

import struct

import lmdb
import pytest
from witness import HEADER, CorruptRecord, decode_record, dump, lz4_block_decompress


def blob(b: bytes) -> bytes:
    return struct.pack("<I", len(b)) + b


def record(*, tier=2, flags=0, value=b"v", embedding=(), tags=(), meta=None) -> bytes:
    head = HEADER.pack(1, tier, flags, 0, 0.25, -3, len(embedding), 10, 11, 12, 13, 14, 15, 16)
    body = blob("tëxt".encode()) + blob(value)
    body += struct.pack(f"<{len(embedding)}f", *embedding)
    body += struct.pack("<I", len(tags)) + b"".join(blob(t.encode()) for t in tags)
    meta = meta or {}
    body += struct.pack("<I", len(meta))
    body += b"".join(blob(k.encode()) + blob(v.encode()) for k, v in meta.items())
    return head + body


# "abc", then a 9-byte match at offset 3 (overlapping its own output), then "X".
LZ4_BLOCK = bytes([0x35]) + b"abc" + bytes([3, 0]) + bytes([0x10]) + b"X"
LZ4_PLAIN = b"abc" * 4 + b"X"


def test_lz4_block_with_overlapping_match():
    assert lz4_block_decompress(LZ4_BLOCK, len(LZ4_PLAIN)) == LZ4_PLAIN
    long_literals = bytes([0xF0, 5]) + b"y" * 20  # 15 + 5 literals
    assert lz4_block_decompress(long_literals, 20) == b"y" * 20
    with pytest.raises(CorruptRecord):
        lz4_block_decompress(LZ4_BLOCK, len(LZ4_PLAIN) + 1)
    with pytest.raises(CorruptRecord):
        lz4_block_decompress(bytes([0x14]) + b"a" + bytes([9, 0]), 8)  # offset before start


def test_decodes_every_field():
    rec = decode_record(
        record(embedding=(0.5, -2.0), tags=("a", "bé"), meta={"type": "fact", "k": ""})
    )
    assert rec["value"] == b"v" and rec["text"] == "tëxt"
    assert (rec["tier"], rec["importance"], rec["priority"], rec["dim"]) == (2, 0.25, -3, 2)
    assert [rec[f] for f in ("created_ms", "updated_ms", "last_access_ms", "access_count")] == [
        10, 11, 12, 13,
    ]  # fmt: skip
    assert (rec["version"], rec["expires_at_ms"], rec["ttl_ms"]) == (14, 15, 16)
    assert rec["embedding"] == [0.5, -2.0] and rec["tags"] == ["a", "bé"]
    assert rec["metadata"] == {"type": "fact", "k": ""} and not rec["compressed"]


def test_format_two_fetches_the_vector_by_its_slot():
    head = HEADER.pack(2, 2, 0, 0, 0.25, -3, 2, 10, 11, 12, 13, 14, 15, 16)
    raw = head + blob(b"t") + blob(b"v") + struct.pack("<Q", 7 << 8 | 3) + bytes(8)
    asked = []
    rec = decode_record(raw, lambda dim, ref: asked.append((dim, ref)) or [1.0, 2.0])
    assert asked == [(2, 7 << 8 | 3)] and rec["embedding"] == [1.0, 2.0]
    with pytest.raises(CorruptRecord):
        decode_record(raw)  # no vectors database to look in
    with pytest.raises(CorruptRecord):
        decode_record(raw[:-1], lambda dim, ref: [1.0, 2.0])


def test_decodes_compressed_value():
    stored = struct.pack("<I", len(LZ4_PLAIN)) + LZ4_BLOCK
    rec = decode_record(record(tier=4, flags=1, value=stored))
    assert rec["compressed"] and rec["value"] == LZ4_PLAIN and rec["stored_len"] == len(stored)


@pytest.mark.parametrize(
    "raw",
    [
        record()[:71],
        record()[:-1],
        record() + b"\x00",
        b"\x03" + record()[1:],
        record()[:1] + b"\x05" + record()[2:],
    ],
    ids=["short-header", "truncated", "trailing-bytes", "format-3", "tier-5"],
)
def test_rejects_malformed_records(raw):
    with pytest.raises(CorruptRecord):
        decode_record(raw)


def test_dump_reads_a_plain_lmdb_store(tmp_path):
    env = lmdb.open(str(tmp_path), max_dbs=8)
    memories, namespaces = env.open_db(b"memories"), env.open_db(b"namespaces")
    with env.begin(write=True) as txn:
        txn.put(b"ns\x00k1", record(value=b"one"), db=memories)
        txn.put(b"ns\x00k2", record(value=b"two", embedding=(1.0,)), db=memories)
        txn.put(b"other\x00k1", record(tier=1), db=memories)
        txn.put(b"ns", struct.pack("<I", 1), db=namespaces)
    env.close()
    out = dump(str(tmp_path))
    assert out["databases"] == ["memories", "namespaces"]
    assert out["namespaces"] == {"ns": {"dim": 1}}
    assert sorted(out["memories"]) == ["ns", "other"]
    assert out["memories"]["ns"]["k2"]["value_hex"] == b"two".hex()
    assert dump(str(tmp_path), "sha256")["memories"]["ns"]["k1"]["value_len"] == 3
