"""memd: a real ``memd serve`` through memd's own Python client (``memd_client``).

The daemon is started by ``tests/daemon_launcher.py``'s ``Daemon``, as the tests and the
other daemon benchmarks start it: default configuration (sync durability: every
acknowledged batch is fsynced; exact and near-duplicate detection on), no embedder
(``--embed-backend none``: vectors are the client's, as with the peers), TCP on
127.0.0.1 like Chroma and Redis.

- ingest: ``Client.bulk_store`` (one StoreStream, 1 000 memories per batch);
- single store: ``Client.store`` of one memory;
- get: ``Client.get`` of one key;
- vector top-10: ``Client.search(embedding=..., mode="semantic")`` ranked by relevance
  alone (the cosine; recency, frequency and importance weights 0, so the ranking can
  be compared with the exact top 10), HNSW graph from 10 000 vectors;
- keyword top-10: ``Client.search(query=word, mode="keyword")``: BM25, ranked.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from daemon_launcher import Daemon
from memd_client import Client

from bench.peers.workload import Array

NAMESPACE = "bench"
RELEVANCE_ONLY = {"relevance": 1.0, "recency": 0.0, "frequency": 0.0, "importance": 0.0}


class MemdPeer:
    """One daemon on a new data directory, and a client to it."""

    name = "memd"
    keyword_note = ""

    def __init__(self, work: Path) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="memd-", dir=work))
        self.daemon = Daemon(self.data_dir, "--embed-backend", "none")
        self.daemon.wait_serving()
        self.client = Client(self.daemon.tcp, timeout=120)

    def pids(self) -> list[int]:
        return [self.daemon.proc.pid]

    def ingest(self, keys: list[str], texts: list[str], vecs: Array) -> None:
        items = (
            {"key": k, "text": t, "embedding": v.tobytes()}
            for k, t, v in zip(keys, texts, vecs, strict=True)
        )
        result = self.client.bulk_store(NAMESPACE, items, batch_size=1000)
        if result.errors:
            raise RuntimeError(f"memd rejected {len(result.errors)} items: {result.errors[0]}")

    def store_one(self, key: str, text: str, vec: Array) -> None:
        self.client.store(NAMESPACE, [{"key": key, "text": text, "embedding": vec.tobytes()}])

    def get(self, key: str) -> str | None:
        memory = self.client.get(NAMESPACE, [key])[key]
        return memory.text if memory is not None else None

    def vector(self, q: Array) -> list[str]:
        hits = self.client.search(
            NAMESPACE, embedding=q.tobytes(), limit=10, mode="semantic", weights=RELEVANCE_ONLY
        )
        return [h.memory.key for h in hits]

    def keyword(self, word: str) -> list[str] | None:
        hits = self.client.search(
            NAMESPACE, query=word, limit=10, mode="keyword", weights=RELEVANCE_ONLY
        )
        return [h.memory.key for h in hits]

    def wait_built(self, timeout: float) -> bool:
        """Poll Stats until no vector waits to enter the HNSW graph (the graph-complete
        signal, ``NamespaceStats.vectors_pending``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ns = self.client.stats(NAMESPACE).namespaces.get(NAMESPACE)
            if ns is not None and ns.vectors_pending == 0:
                return True
            time.sleep(0.05)
        raise TimeoutError(f"memd's graph still had vectors pending after {timeout:.0f} s")

    def info(self) -> dict[str, Any]:
        return {"server": "memd serve (this tree)", "client": "memd_client", "durability": "sync"}

    def close(self) -> None:
        self.client.close()
        self.daemon.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)
