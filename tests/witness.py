"""An independent reader of memd's on-disk format, using only the Python ``lmdb`` package.

memd's promise is that an acknowledged write is in plain LMDB. This module checks that
promise from the outside: it shares no code with the engine and decodes records from
the documented layout (``rust_core/src/store/codec.rs``), little-endian::

    0 u8 format (1 or 2) | 1 u8 tier | 2 u8 flags (bit0: value lz4) | 3 u8 reserved
    4 f32 importance | 8 i32 priority | 12 u32 embedding dim | 16 u64 created_ms
    24 u64 updated_ms | 32 u64 last_access_ms | 40 u64 access_count | 48 u64 version
    56 u64 expires_at_ms (0 = never) | 64 u64 ttl_ms
    72: u32 len + text | u32 len + value (as stored) | vector
        | u32 ntags, (u32 len + tag)* | u32 nmeta, (u32 len + k, u32 len + v)*
        [| u32 len + context]

The trailing context (``NewMemory.context``) is present only when not empty: a
record without one ends after its metadata, as every record did before it existed.

``vector`` is absent when dim is 0. In format 1 it is the embedding (dim * f32); in
format 2 a u64 slot reference, ``group << 8 | slot``, into the ``vectors`` database
(``rust_core/src/store/vectors.rs``)::

    key   namespace ++ 0x00 ++ u32 BE dim ++ u64 BE group
    value u64 LE occupancy bitmap (bit i: slot i in use) ++ slots of dim * f32

``vector_free`` has an empty entry under the same key for each group with a free slot.

A compressed value is an LZ4 block with its uncompressed size prepended (u32 LE); it
is decoded here too, with a small pure-Python LZ4 block decoder.

LMDB forbids opening one environment twice in one process, so run this in a separate
process from the engine::

    python tests/witness.py DIR [--values hex|sha256|none] [--show KEY]...

prints ``{"databases": [...], "namespaces": {ns: {"dim": n}},
"memories": {ns: {key: {...}}}}`` as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import lmdb

FORMAT_VERSIONS = (1, 2)
HEADER = struct.Struct("<BBBBfiIQQQQQQQ")
assert HEADER.size == 72
FLAG_COMPRESSED = 0x01
MEMORIES_DB = b"memories"
NAMESPACES_DB = b"namespaces"
VECTORS_DB = b"vectors"
VECTOR_FREE_DB = b"vector_free"


class _Header(NamedTuple):
    format: int
    tier: int
    flags: int
    reserved: int
    importance: float
    priority: int
    dim: int
    created_ms: int
    updated_ms: int
    last_access_ms: int
    access_count: int
    version: int
    expires_at_ms: int
    ttl_ms: int


class CorruptRecord(ValueError):
    """A record does not follow the documented layout."""


def lz4_block_decompress(src: bytes, size: int) -> bytes:
    """Decode one raw LZ4 block whose uncompressed size is ``size``."""
    out = bytearray()
    i = 0
    while i < len(src):
        token = src[i]
        i += 1
        literal_len = token >> 4
        if literal_len == 15:
            while True:
                extra = src[i]
                i += 1
                literal_len += extra
                if extra != 255:
                    break
        out += src[i : i + literal_len]
        i += literal_len
        if i >= len(src):
            break  # the last sequence carries literals only
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        if offset == 0 or offset > len(out):
            raise CorruptRecord(f"lz4: bad match offset {offset}")
        match_len = token & 15
        if match_len == 15:
            while True:
                extra = src[i]
                i += 1
                match_len += extra
                if extra != 255:
                    break
        match_len += 4
        start = len(out) - offset
        for j in range(match_len):  # byte by byte: a match may overlap its own output
            out.append(out[start + j])
    if len(out) != size:
        raise CorruptRecord(f"lz4: decoded {len(out)} bytes, header says {size}")
    return bytes(out)


class _Reader:
    def __init__(self, buf: bytes, at: int) -> None:
        self.buf = buf
        self.at = at

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.buf):
            raise CorruptRecord(f"truncated at byte {self.at} (wanted {n})")
        chunk = self.buf[self.at : self.at + n]
        self.at += n
        return chunk

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def blob(self) -> bytes:
        return self.take(self.u32())

    def text(self) -> str:
        return self.blob().decode("utf-8")


class Vectors:
    """The ``vectors`` database, read with ``lookup``; counts the slots looked up."""

    def __init__(self, txn: Any, db: Any) -> None:
        self.txn = txn
        self.db = db
        self.referenced = 0

    def lookup(self, ns: bytes, dim: int, ref: int) -> list[float]:
        group, slot = ref >> 8, ref & 0xFF
        if self.db is None:
            raise CorruptRecord("format 2 record but no vectors database")
        packed = self.txn.get(ns + b"\x00" + struct.pack(">IQ", dim, group), db=self.db)
        if packed is None:
            raise CorruptRecord(f"vector group {group} missing")
        (used,) = struct.unpack_from("<Q", packed)
        if not used >> slot & 1:
            raise CorruptRecord(f"vector slot {slot} of group {group} not in use")
        at = 8 + slot * 4 * dim
        if at + 4 * dim > len(packed):
            raise CorruptRecord(f"vector group {group} too short for slot {slot}")
        self.referenced += 1
        return list(struct.unpack_from(f"<{dim}f", packed, at))


def decode_record(
    raw: bytes, vector: Callable[[int, int], list[float]] | None = None
) -> dict[str, Any]:
    """Decode one ``memories`` record into a dict (``value`` is the original bytes).
    ``vector(dim, slot_ref)`` fetches a format-2 record's embedding."""
    if len(raw) < HEADER.size:
        raise CorruptRecord(f"record of {len(raw)} bytes is shorter than the header")
    h = _Header._make(HEADER.unpack_from(raw))
    if h.format not in FORMAT_VERSIONS:
        raise CorruptRecord(f"unknown format version {h.format}")
    if h.tier not in (1, 2, 3, 4):
        raise CorruptRecord(f"unknown tier {h.tier}")
    r = _Reader(raw, HEADER.size)
    text = r.text()
    stored = r.blob()
    compressed = bool(h.flags & FLAG_COMPRESSED)
    if compressed:
        (size,) = struct.unpack_from("<I", stored)
        value = lz4_block_decompress(stored[4:], size)
    else:
        value = stored
    embedding = None
    if h.dim and h.format == 1:
        embedding = list(struct.unpack(f"<{h.dim}f", r.take(4 * h.dim)))
    elif h.dim:
        (ref,) = struct.unpack("<Q", r.take(8))
        if vector is None:
            raise CorruptRecord("format 2 record and no vectors database given")
        embedding = vector(h.dim, ref)
    tags = [r.text() for _ in range(r.u32())]
    metadata = {}
    for _ in range(r.u32()):
        k = r.text()
        metadata[k] = r.text()
    context = r.text() if r.at != len(raw) else ""
    if r.at != len(raw):
        raise CorruptRecord(f"{len(raw) - r.at} trailing bytes")
    fields = h._asdict()
    del fields["format"], fields["reserved"]
    return {
        **fields,
        "compressed": compressed,
        "text": text,
        "stored_len": len(stored),
        "value": value,
        "embedding": embedding,
        "tags": tags,
        "metadata": metadata,
        "context": context,
        "record_len": len(raw),
    }


def dump(path: str, values: str = "hex", show: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Read a whole store. ``values``: ``hex`` (the bytes), ``sha256`` or ``none``;
    keys named in ``show`` always get ``value_hex``."""
    try:
        env = lmdb.open(path, max_dbs=8, readonly=True, lock=True, subdir=True)
        locked = True
    except lmdb.VersionMismatchError:
        # The engine has the store open, and its LMDB (heed's lmdb-master-sys, lock
        # format 2) cannot share a lock file with py-lmdb's bundled LMDB 0.9 (format 1);
        # the data file format is the same. Read without the lock table instead: safe
        # while the engine commits at most once during the dump (a page freed by one
        # commit is only reused by the next), so callers flush first and stay idle.
        env = lmdb.open(path, max_dbs=8, readonly=True, lock=False, subdir=True)
        locked = False
    try:
        with env.begin() as txn:
            databases = sorted(k.decode() for k, _ in txn.cursor())
        memories_db = env.open_db(MEMORIES_DB, create=False)
        namespaces_db = env.open_db(NAMESPACES_DB, create=False)
        packed = VECTORS_DB.decode() in databases
        vectors_db = env.open_db(VECTORS_DB, create=False) if packed else None
        free_db = env.open_db(VECTOR_FREE_DB, create=False) if packed else None
        out: dict[str, Any] = {
            "databases": databases,
            "locked": locked,
            "namespaces": {},
            "memories": {},
        }
        with env.begin() as txn:
            vectors = Vectors(txn, vectors_db)
            for k, v in txn.cursor(db=namespaces_db):
                if len(v) < 4:
                    raise CorruptRecord(f"namespace {k!r}: value of {len(v)} bytes")
                out["namespaces"][k.decode()] = {"dim": struct.unpack_from("<I", v)[0]}
            for k, v in txn.cursor(db=memories_db):
                ns, sep, key = bytes(k).partition(b"\x00")
                if not sep:
                    raise CorruptRecord(f"key {bytes(k)!r} has no NUL separator")
                try:
                    rec = decode_record(
                        bytes(v), lambda dim, ref, ns=ns: vectors.lookup(bytes(ns), dim, ref)
                    )
                except CorruptRecord as exc:
                    raise CorruptRecord(f"{bytes(k)!r}: {exc}") from exc
                value = rec.pop("value")
                rec["value_len"] = len(value)
                if values == "hex" or key.decode() in show:
                    rec["value_hex"] = value.hex()
                elif values == "sha256":
                    rec["value_sha256"] = hashlib.sha256(value).hexdigest()
                out["memories"].setdefault(ns.decode(), {})[key.decode()] = rec
            out["vector_slots"] = {"used": 0, "groups": 0, "free_groups": 0}
            if vectors_db is not None:
                for _, v in txn.cursor(db=vectors_db):
                    out["vector_slots"]["groups"] += 1
                    out["vector_slots"]["used"] += bin(struct.unpack_from("<Q", v)[0]).count("1")
                out["vector_slots"]["free_groups"] = txn.stat(free_db)["entries"]
            # Every slot in use belongs to exactly one record (none leaked, none shared).
            if out["vector_slots"]["used"] != vectors.referenced:
                raise CorruptRecord(
                    f"{out['vector_slots']['used']} vector slots in use, "
                    f"{vectors.referenced} referred to by records"
                )
        return out
    finally:
        env.close()


def run_in_subprocess(
    path: str | Path, values: str = "hex", show: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``dump`` in a separate process, as the engine's own process cannot open the env."""
    shown = [arg for key in show for arg in ("--show", key)]
    proc = subprocess.run(
        [sys.executable, __file__, str(path), "--values", values, *shown],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"witness failed on {path}:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", help="memd data directory (holds data.mdb)")
    parser.add_argument("--values", choices=("hex", "sha256", "none"), default="hex")
    parser.add_argument("--show", action="append", default=[], help="always give this key's value")
    args = parser.parse_args(argv)
    json.dump(dump(args.path, args.values, frozenset(args.show)), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
