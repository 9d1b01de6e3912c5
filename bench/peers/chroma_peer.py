"""ChromaDB: a real ``chroma run`` server through its own Python client (``HttpClient``).

``chroma run --path DIR --host 127.0.0.1 --port P`` is the single-node server that
ships in the ``chromadb`` wheel (Rust, persistent: SQLite log + HNSW segments under
DIR). Embeddings are always supplied by the client: the collection is created with
``embedding_function=None``, so Chroma never embeds (its default ONNX model would need
a download this machine cannot make). The collection's HNSW index keeps Chroma's
defaults (max_neighbors 16, ef_construction 100, ef_search 100) with cosine space; the
vectors are unit length, so cosine ranks as memd's does.

- ingest: ``Collection.add`` of 1 000 ids, documents and embeddings per call;
- single store: ``Collection.add`` of one;
- get: ``Collection.get(ids=[key], include=["documents"])``;
- vector top-10: ``Collection.query(query_embeddings=[q], n_results=10)`` with
  documents and distances included (memd's hits carry their text too);
- keyword top-10: Chroma has no ranked keyword search. The nearest it has is
  ``Collection.get(where_document={"$contains": word}, limit=10)``: an *unranked*
  substring filter (the first 10 documents containing the string, in storage order;
  a word inside a longer word matches too). It is timed as what a Chroma user would
  call, and marked as unranked in the table.
"""

from __future__ import annotations

import shutil
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.peers.workload import Array, Server, find_bin

COLLECTION = "bench"
START_TIMEOUT_S = 120.0
HINT = "run `make bench-peers-deps` (pip install chromadb into .venv)"


class ChromaPeer:
    """One ``chroma run`` on a new directory, and an ``HttpClient`` to it."""

    name = "chroma"
    keyword_note = "unranked $contains filter"

    def __init__(self, work: Path) -> None:
        import chromadb
        from chromadb.config import Settings

        self.server = Server("chroma", work)
        self.data_dir, port = self.server.data_dir, self.server.port
        chroma = find_bin("chroma", Path(sys.executable).parent / "chroma", HINT)
        argv = [chroma, "run", "--path", str(self.data_dir), "--host", "127.0.0.1"]
        self.server.start([*argv, "--port", str(port)], START_TIMEOUT_S)
        try:
            self.client = chromadb.HttpClient(
                host="127.0.0.1",
                port=port,
                settings=Settings(anonymized_telemetry=False),
            )
            self.client.heartbeat()
            self.col = self.client.create_collection(
                COLLECTION,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
            )
        except BaseException:
            self.server.stop()
            raise

    def pids(self) -> list[int]:
        return self.server.pids()

    def ingest(self, keys: list[str], texts: list[str], vecs: Array) -> None:
        for start in range(0, len(keys), 1000):
            part = slice(start, start + 1000)
            self.col.add(ids=keys[part], documents=texts[part], embeddings=vecs[part])

    def store_one(self, key: str, text: str, vec: Array) -> None:
        self.col.add(ids=[key], documents=[text], embeddings=vec[None, :])

    def get(self, key: str) -> str | None:
        docs = self.col.get(ids=[key], include=["documents"])["documents"]
        return docs[0] if docs else None

    def vector(self, q: Array) -> list[str]:
        res = self.col.query(
            query_embeddings=q[None, :], n_results=10, include=["documents", "distances"]
        )
        return list(res["ids"][0])

    def keyword(self, word: str) -> list[str] | None:
        res = self.col.get(where_document={"$contains": word}, limit=10, include=["documents"])
        return list(res["ids"])

    def info(self) -> dict[str, Any]:
        return {
            "server": f"chroma run (chromadb {version('chromadb')})",
            "client": "chromadb.HttpClient",
            "hnsw": "defaults: max_neighbors 16, ef_construction 100, ef_search 100, cosine",
        }

    def wait_built(self, timeout: float) -> bool:
        """Chroma does not report when its index has caught up: the run watches it idle instead."""
        return False

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
