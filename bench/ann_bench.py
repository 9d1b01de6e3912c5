"""HNSW (memd's ``search::ann``) against the exact scan and hnswlib, same vectors, same run.

Two 384-d vector sets at each size:

- ``clustered``: sentence-embedding-like. Real embeddings (e.g. all-MiniLM-L6-v2)
  are anisotropic, with a decaying variance spectrum, and gather in topics; so
  here: a random rotation of a space whose axis ``d`` has standard deviation
  ``d^-0.5``, topic centres drawn in it (one per 100 vectors), and each vector a
  centre plus noise of the same shape (0.8 of the centres' scale), normalised.
  Queries are new vectors from the same topics.
- ``uniform``: uniformly random unit vectors (queries too), the hard case for a
  graph: every vector is about as far from every other.

Rows (per set and size):

- ``index``: ``rust_core/examples/ann_bench.rs`` on the raw vectors, in-process
  Rust: the graph built by the writer's own steps back to back on one thread
  (build rate), the index's heap (matrix + graph), and per query the top 10 from
  the graph and from the exact scan, p50/p99, recall@10 against NumPy's exact top 10.
- ``hnswlib``: hnswlib 0.8.0 (``pip install hnswlib==0.8.0``) with the same M,
  ef_construction and ef, one thread, queried one vector per call from Python, in
  its own process; memory is that process's anonymous RSS growth while it builds.
  Query rounds alternate between the two processes (``--rounds``, default 3) and
  the table shows medians; the p50 ratio is the median of the per-round ratios.
- ``engine``: ``memd.Engine.search`` in-process (semantic, relevance weight only,
  k = 10, hits decoded), default vs ``exact=True``; the writer builds the graph in
  the background after ``put_many`` (``build s``: from the last write to a complete
  graph); ``put_many`` rates before the namespace reaches 10 000 vectors (no graph
  work) and after (graph steps interleaved with the batches).

    .venv/bin/python bench/ann_bench.py              # 10 000 and 100 000
    .venv/bin/python bench/ann_bench.py --full       # and 1 000 000
    .venv/bin/python bench/ann_bench.py --sizes 2000 5000 20000 --no-engine  # crossover
    .venv/bin/python bench/ann_bench.py --sizes 100000 --quant none int8  # int8 rows vs f32
    .venv/bin/python bench/ann_bench.py --sizes 1000000 --sets clustered --no-engine \
        --ef-sweep 32 64 96 128 192 256 --out bench/out/ann_sweep_1m.json  # one build, 6 beams

The ``index`` row walks with the index's default beam for its size (``ann::beam``:
``ef_search`` = 64 up to 100 000 nodes, doubling per tenfold growth past it), and
hnswlib is asked for the same beam. ``--ef-sweep`` then queries both graphs at each
given beam (exactly that beam, whatever the size), ``--rounds`` rounds each,
alternating between the two processes; the table has medians and the median of the
per-round p50 ratios. The index and hnswlib rows need only NumPy and hnswlib (not
the extension), so a long sweep can run from a venv of its own.

``--quant int8`` rows hold the index's vectors as int8 (``engine.vector_quantization``):
the ``index`` row then asks the graph for the engine's candidate pool (max(3k, k + 20))
and re-scores it with the f32 vectors, as the engine does from LMDB; recall is
against the exact f32 top 10 either way. ``B/vec`` is the index's heap (matrix,
graph, bookkeeping) per vector; the engine row's is from ``Engine.stats``.

JSON goes to ``bench/out/ann_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
K = 10
M, EF_CONSTRUCTION, EF_SEARCH = 16, 128, 64
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "ann_bench.json"
Array = np.ndarray[Any, Any]


def rss_anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def vectors(kind: str, n: int, nq: int, seed: int = 7) -> tuple[Array, Array]:
    """``n`` unit vectors and ``nq`` queries of the named set (float32)."""
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        x = rng.standard_normal((n + nq, DIM), dtype=np.float32)
    else:
        scale = (np.arange(1, DIM + 1, dtype=np.float32) ** -0.5).astype(np.float32)
        rot, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        rot = rot.astype(np.float32)
        topics = max(1, n // 100)
        centres = rng.standard_normal((topics, DIM), dtype=np.float32) * scale
        x = np.empty((n + nq, DIM), dtype=np.float32)
        for start in range(0, n + nq, 100_000):
            end = min(start + 100_000, n + nq)
            which = rng.integers(0, topics, size=end - start)
            noise = rng.standard_normal((end - start, DIM), dtype=np.float32) * scale
            x[start:end] = (centres[which] + 0.8 * noise) @ rot
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n], x[n:]


def truth(x: Array, q: Array) -> Array:
    """Exact top-K ids per query (NumPy, in chunks)."""
    out = np.empty((len(q), K), dtype=np.int64)
    for start in range(0, len(q), 100):
        sims = q[start : start + 100] @ x.T
        top = np.argpartition(-sims, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[start : start + 100] = np.take_along_axis(top, order, axis=1)
    return out


def recall(found: list[list[int]], want: Array) -> float:
    hits = sum(len(set(f[:K]) & set(w.tolist())) for f, w in zip(found, want, strict=True))
    return hits / (len(want) * K)


def write_raw(path: Path, a: Array, dtype: str = "<f4") -> None:
    with path.open("wb") as f:
        f.write(np.array(a.shape, dtype="<u4").tobytes())
        f.write(np.ascontiguousarray(a, dtype=dtype).tobytes())


def rust_binary() -> Path:
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target" / "nopy")}
    cmd = ["cargo", "build", "--release", "--quiet", "--no-default-features"]
    subprocess.run([*cmd, "--example", "ann_bench"], cwd=ROOT, check=True, env=env)
    return ROOT / "target" / "nopy" / "release" / "examples" / "ann_bench"


class Worker:
    """A process that builds an index once, prints its build line, then answers a
    JSON line per command on stdin (``ann``, ``exact``)."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.built = self.read()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        return dict(json.loads(self.proc.stdout.readline()))

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def hnswlib_worker(xpath: str, qpath: str, tpath: str, ef: str) -> None:
    """``--hnswlib-worker``: the same protocol as the Rust binary, over hnswlib."""
    import hnswlib

    def load(path: str, dtype: str) -> Array:
        raw = Path(path).read_bytes()
        n, d = np.frombuffer(raw[:8], dtype="<u4")
        return np.frombuffer(raw[8:], dtype=dtype).reshape(int(n), int(d))

    x, q, want = load(xpath, "<f4"), load(qpath, "<f4"), load(tpath, "<u4")
    before = rss_anon()
    index = hnswlib.Index(space="ip", dim=x.shape[1])
    index.init_index(max_elements=len(x), ef_construction=EF_CONSTRUCTION, M=M, random_seed=7)
    index.set_num_threads(1)
    t = time.perf_counter()
    index.add_items(x, np.arange(len(x)))
    build_s = time.perf_counter() - t
    index.set_ef(int(ef))
    built = {
        "build_s": build_s,
        "build_rate": len(x) / build_s,
        "memory_bytes": rss_anon() - before,
    }
    print(json.dumps(built), flush=True)
    for command in sys.stdin:
        # `ann [EF]`: the same protocol as the Rust binary; EF changes the beam from
        # then on (hnswlib's ef is a setting of the index, not of a query).
        words = command.split()
        assert words[0] == "ann", command
        index.set_ef(int(words[1]) if len(words) > 1 else int(ef))
        lat, found = [], []
        for v in q:
            t0 = time.perf_counter_ns()
            labels, _ = index.knn_query(v, k=K)
            lat.append((time.perf_counter_ns() - t0) / 1e6)
            found.append(labels[0].tolist())
        lat = lat[5:]
        out = {
            "recall": recall(found, want),
            "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)),
        }
        print(json.dumps(out), flush=True)


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over rounds of one beam's ``ann`` (index) and ``hnswlib`` runs, and the
    median of the per-round p50 ratios."""

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return float(np.median([row[key] for row in rows])) if rows else float("nan")

    out: dict[str, Any] = {
        "recall": med(runs["ann"], "recall"),
        "p50_ms": med(runs["ann"], "p50_ms"),
        "p99_ms": med(runs["ann"], "p99_ms"),
        "rounds": len(runs["ann"]),
    }
    if runs["hnswlib"]:
        pairs = zip(runs["ann"], runs["hnswlib"], strict=True)
        ratios = [a["p50_ms"] / h["p50_ms"] for a, h in pairs]
        out |= {
            "hnswlib_recall": med(runs["hnswlib"], "recall"),
            "hnswlib_p50_ms": med(runs["hnswlib"], "p50_ms"),
            "hnswlib_p99_ms": med(runs["hnswlib"], "p99_ms"),
            "p50_ratio_to_hnswlib": float(np.median(ratios)),
        }
    return out


def run_index_and_hnswlib(
    binary: Path,
    x: Array,
    q: Array,
    want: Array,
    tmp: Path,
    rounds: int,
    hnsw: bool = True,
    quant: str = "none",
    ef: int = EF_SEARCH,
    ef_sweep: tuple[int, ...] = (),
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Both indexes built (one after the other), then ``rounds`` rounds of all
    queries through each in turn; medians over rounds (the machine is shared, so
    interleaving exposes both to the same load)."""
    paths = [str(tmp / name) for name in ("x.bin", "q.bin", "t.bin")]
    write_raw(tmp / "x.bin", x)
    write_raw(tmp / "q.bin", q)
    write_raw(tmp / "t.bin", want, "<u4")
    ours = Worker([str(binary), *paths, str(M), str(EF_CONSTRUCTION), str(ef), quant])
    hnswlib_argv = [sys.executable, __file__, "--hnswlib-worker", *paths, str(ef)]
    theirs = Worker(hnswlib_argv) if hnsw else None
    runs: dict[str, list[dict[str, Any]]] = {"ann": [], "exact": [], "hnswlib": []}
    for r in range(rounds):
        runs["ann"].append(ours.ask("ann"))
        if theirs is not None:
            # hnswlib at the beam the index chose for its size (`ann::beam`), so the
            # two walk the same width.
            beam = runs["ann"][-1].get("ef", ef)
            runs["hnswlib"].append(theirs.ask(f"ann {beam}"))
        if r == 0 or len(x) <= 100_000:
            runs["exact"].append(ours.ask("exact"))
    # The ef sweep on the same two graphs: `rounds` rounds per beam, each round
    # alternating between the two processes like the rounds above.
    sweep_runs: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for beam in ef_sweep:
        runs_at = sweep_runs.setdefault(beam, {"ann": [], "hnswlib": []})
        for _ in range(rounds):
            runs_at["ann"].append(ours.ask(f"ann {beam}"))
            if theirs is not None:
                runs_at["hnswlib"].append(theirs.ask(f"ann {beam}"))
        print(f"  ef {beam}: {summarise(runs_at)}", file=sys.stderr, flush=True)
    sweep = {beam: summarise(r) for beam, r in sweep_runs.items()}
    ours.close()
    if theirs is not None:
        theirs.close()

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return float(np.median([row[key] for row in rows]))

    ratios = [a["p50_ms"] / h["p50_ms"] for a, h in zip(runs["ann"], runs["hnswlib"], strict=False)]
    ix = {
        **ours.built,
        "recall": med(runs["ann"], "recall"),
        "ann_p50_ms": med(runs["ann"], "p50_ms"),
        "ann_p99_ms": med(runs["ann"], "p99_ms"),
        "ann_ef": runs["ann"][0].get("ef", ef),
        "exact_p50_ms": med(runs["exact"], "p50_ms"),
        "exact_p99_ms": med(runs["exact"], "p99_ms"),
        "p50_ratio_to_hnswlib": float(np.median(ratios)) if ratios else float("nan"),
        "ef_sweep": sweep,
        "rounds": runs,
    }
    if theirs is None:
        return ix, None
    hn = {
        **theirs.built,
        "recall": med(runs["hnswlib"], "recall"),
        "p50_ms": med(runs["hnswlib"], "p50_ms"),
        "p99_ms": med(runs["hnswlib"], "p99_ms"),
    }
    return ix, hn


def run_engine(x: Array, q: Array, want: Array, path: str, quant: str = "none") -> dict[str, Any]:
    # Imported here: the index and hnswlib rows need only NumPy (and hnswlib), so a
    # long 1M sweep can start before the extension is built.
    import memd
    from memd import EngineOptions, NewMemory, SearchQuery, SearchWeights, TierOptions

    options = EngineOptions(
        durability="nosync", tiers=(TierOptions(0),) * 4, vector_quantization=quant
    )
    eng = memd.Engine(path, options)
    ns, rates = "ann", {"before": [0.0, 0], "after": [0.0, 0]}
    for start in range(0, len(x), 1000):
        batch = [
            NewMemory(key=f"m{i:07}", embedding=x[i].tobytes())
            for i in range(start, min(start + 1000, len(x)))
        ]
        t = time.perf_counter()
        eng.put_many(ns, batch)
        phase = rates["before" if start < 10_000 else "after"]
        phase[0] += time.perf_counter() - t
        phase[1] += len(batch)
    t = time.perf_counter()
    # The graph-complete signal: no vector waits to enter the graph.
    while (stats := eng.stats(ns)) and stats[0].vectors_pending > 0:
        time.sleep(0.05)
    build_s = time.perf_counter() - t
    state = eng.vector_index(ns)
    bytes_per_vector = stats[0].vector_bytes / max(1, stats[0].vectors)
    weights = SearchWeights(relevance=1.0, recency=0.0, frequency=0.0, importance=0.0)
    lat: dict[bool, list[float]] = {False: [], True: []}
    found: dict[bool, list[list[int]]] = {False: [], True: []}
    # All graph searches first, then all exact ones: interleaved, each exact scan
    # (the whole matrix through the cache) would leave the next walk a cold cache,
    # which the index rows (and a real workload of graph searches) do not have.
    for exact in (False, True):
        for i, v in enumerate(q):
            query = SearchQuery(
                namespace=ns, vector=v.tobytes(), k=K, mode="semantic", weights=weights, exact=exact
            )
            t0 = time.perf_counter_ns()
            hits = eng.search(query)
            if i >= 5:
                lat[exact].append((time.perf_counter_ns() - t0) / 1e6)
            found[exact].append([int(h.key[1:]) for h in hits])
    eng.close()

    def rate(phase: str) -> float:
        secs, n = rates[phase]
        return n / secs if secs else 0.0

    return {
        "graph": state,
        "quant": quant,
        "bytes_per_vector": bytes_per_vector,
        "put_many_rate_before_10k": rate("before"),
        "put_many_rate_after_10k": rate("after"),
        "build_s_after_writes": build_s,
        "ann_recall": recall(found[False], want),
        "exact_recall": recall(found[True], want),
        "ann_p50_ms": float(np.percentile(lat[False], 50)),
        "ann_p99_ms": float(np.percentile(lat[False], 99)),
        "exact_p50_ms": float(np.percentile(lat[True], 50)),
        "exact_p99_ms": float(np.percentile(lat[True], 99)),
    }


def print_row(row: dict[str, Any]) -> None:
    kind, n, quant = row["set"], row["n"], row.get("quant", "none")
    tag = "" if quant == "none" else "/" + quant
    hn = row.get("hnswlib")
    if "index" in row:
        ix = row["index"]
        print(
            f"{kind:<10}{n:>9} {'index' + tag:<11}{ix['recall']:>7.3f}{ix['ann_p50_ms']:>9.3f}"
            f"{ix['ann_p99_ms']:>9.3f}{ix['exact_p50_ms']:>10.3f}{ix['build_rate']:>10.0f}"
            f"{ix['heap_bytes'] / 2**20:>8.1f}{ix['heap_bytes'] / n:>7.0f}"
            f"  ef {ix.get('ann_ef', '?')}, p50 / hnswlib {ix['p50_ratio_to_hnswlib']:.2f}x,"
            f" graph {ix['graph_bytes'] / n:.0f} B/vec"
        )
        for ef, s in ix.get("ef_sweep", {}).items():
            line = (
                f"{'':<10}{'':>9} {'ef ' + str(ef):<11}{s['recall']:>7.3f}{s['p50_ms']:>9.3f}"
                f"{s['p99_ms']:>9.3f}"
            )
            if "hnswlib_recall" in s:
                line += (
                    f"{'':>35}  hnswlib {s['hnswlib_recall']:.3f} {s['hnswlib_p50_ms']:.3f}"
                    f" {s['hnswlib_p99_ms']:.3f}; p50 / hnswlib {s['p50_ratio_to_hnswlib']:.2f}x"
                )
            print(line)
    if hn is not None:
        print(
            f"{'':<10}{'':>9} {'hnswlib':<11}{hn['recall']:>7.3f}{hn['p50_ms']:>9.3f}"
            f"{hn['p99_ms']:>9.3f}{'':>10}{hn['build_rate']:>10.0f}"
            f"{hn['memory_bytes'] / 2**20:>8.1f}{hn['memory_bytes'] / n:>7.0f}"
        )
    if "engine" in row:
        en = row["engine"]
        before, after = en["put_many_rate_before_10k"], en["put_many_rate_after_10k"]
        vs = f"p50 / hnswlib {en['ann_p50_ms'] / hn['p50_ms']:.2f}x; " if hn else ""
        print(
            f"{kind:<10}{n:>9} {'engine' + tag:<11}{en['ann_recall']:>7.3f}{en['ann_p50_ms']:>9.3f}"
            f"{en['ann_p99_ms']:>9.3f}{en['exact_p50_ms']:>10.3f}{'':>10}{'':>8}"
            f"{en['bytes_per_vector']:>7.0f}"
            f"  {vs}build {en['build_s_after_writes']:.1f} s after the writes; put_many/s"
            f" {before:.0f} (<10k) {after:.0f} (graph building)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also 1 000 000 vectors")
    ap.add_argument("--sizes", type=int, nargs="*", help="vector counts (overrides the default)")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--no-engine", action="store_true", help="skip the memd.Engine rows")
    ap.add_argument("--sets", nargs="*", default=["clustered", "uniform"])
    ap.add_argument("--rounds", type=int, default=3, help="query rounds per index (medians)")
    ap.add_argument("--engine-only", action="store_true", help="only the memd.Engine rows")
    ap.add_argument("--no-hnswlib", action="store_true", help="skip hnswlib (e.g. at 1M)")
    ap.add_argument("--quant", nargs="*", default=["none"], help="row storage: none, int8")
    ap.add_argument("--ef", type=int, default=EF_SEARCH, help="index and hnswlib search beam")
    ap.add_argument(
        "--ef-sweep",
        type=int,
        nargs="*",
        default=[],
        help="also these beams on the same graphs, index and hnswlib, --rounds each",
    )
    ap.add_argument("--out", type=Path, default=OUT, help="where the JSON goes")
    ap.add_argument("--hnswlib-worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hnswlib_worker:
        hnswlib_worker(*args.hnswlib_worker)
        return
    sizes = args.sizes or ([10_000, 100_000, 1_000_000] if args.full else [10_000, 100_000])
    # The engine rows need only the extension: no cargo build for them.
    binary = Path() if args.engine_only else rust_binary()
    results: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    started = time.time()
    head = f"{'set':<10}{'n':>9} {'row':<11}{'recall':>7}{'p50 ms':>9}{'p99 ms':>9}"
    print(head + f"{'exact p50':>10}{'build/s':>10}{'MiB':>8}{'B/vec':>7}  notes")
    for kind in args.sets:
        for n in sizes:
            x, q = vectors(kind, n, args.queries)
            want = truth(x, q)
            for i, quant in enumerate(args.quant):
                row: dict[str, Any] = {"set": kind, "n": n, "quant": quant}
                # hnswlib once per set and size: it is the same index whatever our rows.
                hnsw = not args.no_hnswlib and i == 0
                with tempfile.TemporaryDirectory() as tmp:
                    if not args.engine_only:
                        ix, hn = run_index_and_hnswlib(
                            binary,
                            x,
                            q,
                            want,
                            Path(tmp),
                            args.rounds,
                            hnsw,
                            quant,
                            args.ef,
                            tuple(args.ef_sweep),
                        )
                        row["index"] = ix
                        if hn is not None:
                            row["hnswlib"] = hn
                    if not args.no_engine:
                        row["engine"] = run_engine(x, q, want, tmp + "/db", quant)
                results.append(row)
                print_row(row)
    out = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "m": M,
                "ef_construction": EF_CONSTRUCTION,
                "ef_search": args.ef,
                "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
                "wall_s": time.time() - started,
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
                "argv": sys.argv[1:],
                "results": results,
            },
            indent=1,
        )
    )
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()
