"""Digest of a memd store, read with the independent ``lmdb`` package (run as a program).

    python tests/cluster/digest.py DIR...

prints, per directory, ``{"namespaces": {ns: sha256}, "records": {ns: memories},
"applied": {partition mark: sequence}}`` as one JSON line, where a namespace's sha256
covers its (key, record) pairs, then its packed vector groups (``vectors``: key, value)
and its free-slot list (``vector_free``: key). Everything is compared byte for byte:
replicas that applied the same log must hold identical bytes. A separate process,
because LMDB forbids opening an environment twice in one process, and the daemons
under test have theirs open.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict

import lmdb


def digest(path: str) -> dict[str, dict[str, object]]:
    # Without the lock table: the daemon's LMDB (heed) and py-lmdb's bundled one use
    # different lock formats (see tests/witness.py). Safe while the daemons are idle;
    # a read racing a commit may fail, and the caller then reads again.
    env = lmdb.open(path, readonly=True, lock=False, max_dbs=8, subdir=True)
    try:
        with env.begin() as txn:
            sums: dict[str, hashlib._Hash] = defaultdict(hashlib.sha256)
            records: dict[str, int] = defaultdict(int)
            memories = env.open_db(b"memories", txn=txn, create=False)
            for db_key, record in txn.cursor(db=memories):
                ns, _, key = bytes(db_key).partition(b"\0")
                records[ns.decode()] += 1
                sums[ns.decode()].update(len(key).to_bytes(4, "little") + key + bytes(record))
            # Both vector databases are keyed namespace ++ 0x00 ++ dim ++ group.
            for name, tag in ((b"vectors", b"V"), (b"vector_free", b"F")):
                try:
                    db = env.open_db(name, txn=txn, create=False)
                except lmdb.NotFoundError:
                    continue
                for db_key, value in txn.cursor(db=db):
                    ns, _, rest = bytes(db_key).partition(b"\0")
                    sums[ns.decode()].update(tag + len(rest).to_bytes(4, "little") + rest)
                    sums[ns.decode()].update(len(value).to_bytes(4, "little") + bytes(value))
            applied: dict[str, int] = {}
            try:
                marks = env.open_db(b"cluster_applied", txn=txn, create=False)
            except lmdb.NotFoundError:
                marks = None
            if marks is not None:
                for name, seq in txn.cursor(db=marks):
                    applied[bytes(name).decode()] = int.from_bytes(bytes(seq), "little")
    finally:
        env.close()
    return {
        "namespaces": {ns: h.hexdigest() for ns, h in sorted(sums.items())},
        "records": dict(sorted(records.items())),
        "applied": applied,
    }


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(json.dumps(digest(arg), sort_keys=True))
