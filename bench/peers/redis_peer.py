"""Redis: a real ``redis-server`` (Debian's package) through redis-py.

Redis is a key-value store: the comparison is plain SET and GET of one record per
memory (its 384 float32s then its UTF-8 text, one string value). Vector and keyword
search need the RediSearch module, which neither Debian nor PyPI ships here, so Redis
has no search rows.

Two settings, two peers: ``redis`` matches memd's default durability (sync: a write is
acknowledged once it is fsynced) with an append-only file and ``appendfsync always``;
``redis-everysec`` is Redis's usual production setting (``appendfsync everysec``: up to
a second of acknowledged writes lost in a crash). Snapshots (``save``) are off.

- ingest: a non-transactional pipeline of 1 000 SETs per round trip;
- single store: one SET;
- get: one GET.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench.peers.workload import Array, Server, find_bin

VEC_BYTES = 384 * 4
START_TIMEOUT_S = 30.0
HINT = "run `make bench-peers-deps` (apt-get install redis-server)"


class RedisPeer:
    """One ``redis-server`` on a new directory, and a ``redis.Redis`` client to it."""

    keyword_note = "no search (RediSearch not available)"

    def __init__(self, work: Path, appendfsync: str = "always") -> None:
        import redis

        self.name = "redis" if appendfsync == "always" else f"redis-{appendfsync}"
        self.appendfsync = appendfsync
        self.server = Server("redis", work)
        self.data_dir, port = self.server.data_dir, self.server.port
        argv = [
            find_bin("redis-server", Path("/usr/bin/redis-server"), HINT),
            "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
            "--save", "", "--appendonly", "yes", "--appendfsync", appendfsync,
            "--daemonize", "no", "--logfile", "", "--loglevel", "warning",
        ]  # fmt: skip
        self.server.start(argv, START_TIMEOUT_S)
        try:
            self.r = redis.Redis(host="127.0.0.1", port=port)
            self.r.ping()
            self.version = str(self.r.info("server")["redis_version"])
        except BaseException:
            self.server.stop()
            raise

    def pids(self) -> list[int]:
        return self.server.pids()

    def ingest(self, keys: list[str], texts: list[str], vecs: Array) -> None:
        for start in range(0, len(keys), 1000):
            pipe = self.r.pipeline(transaction=False)
            for i in range(start, min(start + 1000, len(keys))):
                pipe.set(keys[i], vecs[i].tobytes() + texts[i].encode())
            pipe.execute()

    def store_one(self, key: str, text: str, vec: Array) -> None:
        self.r.set(key, vec.tobytes() + text.encode())

    def get(self, key: str) -> str | None:
        raw = self.r.get(key)
        return None if raw is None else bytes(raw)[VEC_BYTES:].decode()  # type: ignore[arg-type]

    def vector(self, q: Array) -> list[str] | None:
        return None

    def keyword(self, word: str) -> list[str] | None:
        return None

    def info(self) -> dict[str, Any]:
        import redis

        return {
            "server": f"redis-server {self.version}",
            "client": f"redis-py {redis.__version__}",
            "durability": f"appendonly yes, appendfsync {self.appendfsync}",
        }

    def wait_built(self, timeout: float) -> bool:
        """Redis has no background index: the run watches it idle instead."""
        return False

    def close(self) -> None:
        self.r.close()
        self.server.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
