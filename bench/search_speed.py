"""Top-10 search latency of memd against same-run peers, on one synthetic corpus.

Peers (what a user might otherwise reach for), on the same memories and queries:
keyword -> the ``tantivy`` package (BM25, top 10 + their keys); semantic -> NumPy
``X @ q`` + ``argpartition`` over unit rows; hybrid -> the two added. Each row runs
without and with a selective filter (a tag carried by 1% of memories: memd's
``tags_all``, a tantivy ``Must`` term, NumPy on the pre-selected rows ``X[sel]``).
memd numbers are end to end through ``memd.Engine.search`` (query dataclass in,
``Hit`` objects with decoded memories out) with the default weights and fusion.

Also reported: ingest rate, reopen time (the index is rebuilt from the records),
index heap per memory (anonymous RSS growth across the reopen), and whether another
Python thread keeps running while searches run (the GIL is released).

    .venv/bin/pip install tantivy
    .venv/bin/python bench/search_speed.py            # 100 000 memories
    .venv/bin/python bench/search_speed.py --full     # and 1 000 000
"""

from __future__ import annotations

import argparse
import gc
import itertools
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import memd
from memd import EngineOptions, NewMemory, SearchFilter, SearchQuery, TierOptions

DIM = 384
NS = "bench"
SELECTIVE = SearchFilter(tags_all=["sel"])


def rss_anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def corpus(
    n: int, seed: int = 1
) -> tuple[list[str], np.ndarray[Any, Any], np.ndarray[Any, Any], list[str]]:
    """Texts (Zipfian words), unit vectors, the 1% selective mask, vocabulary."""
    rng = np.random.default_rng(seed)
    syll = np.array(["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "po", "qu", "dr"])
    vocab = ["".join(rng.choice(syll, size=rng.integers(2, 5))) + str(i % 7) for i in range(30_000)]
    p = 1.0 / (np.arange(len(vocab)) + 10.0)
    p /= p.sum()
    lengths = rng.integers(8, 25, size=n)
    words = rng.choice(len(vocab), size=int(lengths.sum()), p=p)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    vocab_arr = np.array(vocab)
    texts = [" ".join(vocab_arr[words[bounds[i] : bounds[i + 1]]]) for i in range(n)]
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sel = rng.random(n) < 0.01
    return texts, x, sel, vocab


Stat = tuple[float, float]


def timed(fns: list[Callable[[int], object]], reps: int) -> list[Stat]:
    """p50/p99 ms of each function, called in turn on the same query index, so a
    machine shared with other jobs slows all of them alike."""
    for fn in fns:
        fn(0)  # warm-up
    lat: list[list[float]] = [[] for _ in fns]
    for i in range(reps):
        for fn, out in zip(fns, lat, strict=True):
            t = time.perf_counter_ns()
            fn(i)
            out.append((time.perf_counter_ns() - t) / 1e6)
    return [(float(np.percentile(x, 50)), float(np.percentile(x, 99))) for x in lat]


def build_memd(
    path: str, texts: list[str], x: np.ndarray[Any, Any], sel: np.ndarray[Any, Any]
) -> float:
    opts = EngineOptions(durability="nosync", tiers=(TierOptions(0),) * 4)
    eng = memd.Engine(path, opts)
    t = time.perf_counter()
    for start in range(0, len(texts), 1000):
        batch = [
            NewMemory(
                key=f"m{i:07}",
                text=texts[i],
                embedding=x[i].tobytes(),
                tags=["sel"] if sel[i] else [],
            )
            for i in range(start, min(start + 1000, len(texts)))
        ]
        eng.put_many(NS, batch)
    rate = len(texts) / (time.perf_counter() - t)
    eng.close()
    return rate


def build_tantivy(path: str, texts: list[str], sel: np.ndarray[Any, Any]) -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("key", stored=True, tokenizer_name="raw")
    sb.add_text_field("text", stored=False)
    sb.add_text_field("tags", stored=False, tokenizer_name="raw")
    schema = sb.build()
    index = tantivy.Index(schema, path=path)
    writer = index.writer(heap_size=512_000_000)
    for i, t in enumerate(texts):
        writer.add_document(
            tantivy.Document(key=f"m{i:07}", text=t, tags=["sel"] if sel[i] else [])
        )
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


def gil_check(eng: memd.Engine, vq: list[bytes]) -> str:
    """A 1 ms ticker thread's longest stall while the main thread runs semantic
    searches back to back: a search holding the GIL would stall it for its whole
    duration."""
    ticks: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    th = threading.Thread(target=tick)
    th.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    durations = []
    while time.perf_counter() - t0 < 2.0:
        t = time.perf_counter()
        eng.search(SearchQuery(NS, vector=vq[len(durations) % len(vq)], mode="semantic"))
        durations.append(time.perf_counter() - t)
    t1 = time.perf_counter()
    stop.set()
    th.join()
    during = [t for t in ticks if t0 <= t <= t1]
    gap = max(b - a for a, b in itertools.pairwise(during)) * 1e3
    return (
        f"a 1 ms ticker thread ticked {len(during)} times during {len(durations)} back-to-back "
        f"semantic searches (median {np.median(durations) * 1e3:.1f} ms, max "
        f"{max(durations) * 1e3:.1f} ms); its longest stall was {gap:.1f} ms"
    )


def run(n: int, reps: int) -> None:
    import tantivy

    texts, x, sel, vocab = corpus(n)
    rng = np.random.default_rng(2)
    kq = [" ".join(rng.choice(vocab[100:5000], size=rng.integers(2, 4))) for _ in range(reps)]
    qv = rng.standard_normal((reps, DIM), dtype=np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    vq = [q.tobytes() for q in qv]
    with tempfile.TemporaryDirectory() as d:
        rate = build_memd(f"{d}/memd", texts, x, sel)
        gc.collect()
        before = rss_anon()
        t = time.perf_counter()
        eng = memd.Engine(
            f"{d}/memd", EngineOptions(durability="nosync", tiers=(TierOptions(0),) * 4)
        )
        open_s = time.perf_counter() - t
        per_mem = (rss_anon() - before) / n
        Path(f"{d}/tv").mkdir()
        index = build_tantivy(f"{d}/tv", texts, sel)
        searcher = index.searcher()
        schema = index.schema
        sel_rows = np.flatnonzero(sel)

        def memd_q(**kw: Any) -> Callable[[int], object]:
            def go(i: int) -> object:
                q = SearchQuery(
                    NS, kw.get("text", kq[i]), vector=kw.get("vector", vq[i]), **kw.get("opts", {})
                )
                return eng.search(q)

            return go

        def tv(filtered: bool) -> Callable[[int], object]:
            def go(i: int) -> object:
                q = index.parse_query(kq[i], ["text"])
                if filtered:
                    tag = tantivy.Query.term_query(schema, "tags", "sel")
                    q = tantivy.Query.boolean_query(
                        [(tantivy.Occur.Must, q), (tantivy.Occur.Must, tag)]
                    )
                hits = searcher.search(q, 10, count=False).hits
                return [searcher.doc(a)["key"][0] for _, a in hits]

            return go

        def npq(filtered: bool) -> Callable[[int], object]:
            def go(i: int) -> object:
                q = qv[i]
                rows = x[sel_rows] if filtered else x
                s = rows @ q
                top = np.argpartition(-s, 10)[:10]
                return top[np.argsort(-s[top])]

            return go

        rows = []
        for filtered in (False, True):
            f = {"filter": SELECTIVE} if filtered else {}
            label = " + 1% filter" if filtered else ""
            kw, tk = timed([memd_q(vector=None, opts={"mode": "keyword", **f}), tv(filtered)], reps)
            sem, nq, hy = timed(
                [
                    memd_q(text="", opts={"mode": "semantic", **f}),
                    npq(filtered),
                    memd_q(opts={"mode": "hybrid", **f}),
                ],
                reps,
            )
            rows += [
                (f"keyword{label}", kw, "tantivy", tk),
                (f"semantic 384-d{label}", sem, "NumPy X@q", nq),
                (f"hybrid{label}", hy, "tantivy + NumPy", (tk[0] + nq[0], tk[1] + nq[1])),
            ]
        print(f"\n### {n:,} memories ({reps} queries per row, top 10)\n")
        cols = ["search", "memd p50 ms", "memd p99 ms", "peer", "peer p50 ms", "peer p99 ms"]
        print("| " + " | ".join([*cols, "ratio p50", "ratio p99"]) + " |")
        print("|---|---:|---:|---|---:|---:|---:|---:|")
        for name, m, peer, p in rows:
            print(
                f"| {name} | {m[0]:.3f} | {m[1]:.3f} | {peer} | {p[0]:.3f} | {p[1]:.3f} "
                f"| {m[0] / p[0]:.2f} | {m[1] / p[1]:.2f} |"
            )
        print(
            f"\ningest {rate:,.0f} memories/s (batches of 1000, nosync); reopen (index rebuilt "
            f"from records) {open_s:.2f} s; index heap {per_mem:,.0f} B/memory "
            f"({per_mem - DIM * 4:,.0f} B without the {DIM * 4} B vector row)"
        )
        print(f"GIL: {gil_check(eng, vq)}")
        eng.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also run at 1 000 000 memories")
    ap.add_argument("-n", type=int, default=100_000, help="corpus size of the default run")
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    run(args.n, args.reps)
    if args.full:
        run(1_000_000, max(args.reps // 4, 50))


if __name__ == "__main__":
    main()
