"""memd against ChromaDB and Redis: the same workload through each one's Python client.

    make bench-peers                                  # installs chromadb, redis-py, redis-server
    nice .venv/bin/python -m bench.peers              # 100 000 memories, 3 rounds
    .venv/bin/python -m bench.peers --n 10000         # quick
    options: --rounds R, --queries Q, --gets G, --stores S,
             --peers memd,chroma,redis,redis-everysec (redis: appendfsync always)

Each round starts every system afresh (a new server on a new directory), in an order
rotated per round so that none always runs first on a cooler machine, and runs on it:

1. ingest: the ``n`` memories (key, 25-word text, 384-d vector) in batches of 1 000,
   timed until the last batch is acknowledged; then the time until the index is built,
   reported separately: memd reports it (Stats: no vector waiting for the HNSW graph),
   the others are watched until idle (under 5 % of a core);
2. vector top-10 of ``Q`` query vectors, one call each (latency p50/p99), and
   recall@10 of the returned keys against NumPy's exact top 10;
3. keyword top-10 of ``Q`` single words, one call each; every returned memory must
   contain the word;
4. get by key: ``G`` random keys, one call each; every text must be the one stored;
5. single store: ``S`` new memories, one call each;
6. RSS of the server's process tree and its directory's allocated bytes.

The table shows the medians of the rounds, and memd ÷ peer for each row (rows where
higher is better: memd leads above 1; lower is better: memd leads below 1). JSON with
every round goes to ``bench/out/peers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.peers import table
from bench.peers.redis_peer import RedisPeer
from bench.peers.workload import Peer, Workload, build, disk_bytes, recall, rss_bytes, wait_idle

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "peers.json"
WARMUP = 5


def makers() -> dict[str, Callable[[Path], Peer]]:
    """Name -> constructor; peers import their client only when started."""
    from bench.peers.chroma_peer import ChromaPeer
    from bench.peers.memd_peer import MemdPeer

    return {
        "memd": MemdPeer,
        "chroma": ChromaPeer,
        "redis": RedisPeer,
        "redis-everysec": lambda work: RedisPeer(work, "everysec"),
    }


def timed(
    calls: list[Callable[[], Any]], warm: list[Callable[[], Any]] | None = None
) -> tuple[list[float], list[Any]]:
    """Latency in ms and result of each call, after untimed ``warm`` calls (default: the
    first WARMUP of ``calls``, run twice: reads only)."""
    for call in calls[:WARMUP] if warm is None else warm:
        call()
    lat, out = [], []
    for call in calls:
        t0 = time.perf_counter()
        out.append(call())
        lat.append((time.perf_counter() - t0) * 1e3)
    return lat, out


def pct(lat: list[float]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99))}


def one_round(peer: Peer, w: Workload) -> dict[str, Any]:
    """The workload on one fresh system; its figures."""
    res: dict[str, Any] = {"info": peer.info()}
    t0 = time.perf_counter()
    peer.ingest(w.keys, w.texts, w.vecs)
    ingest_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    # A server that reports its index complete is asked; the others are watched idle.
    idle_s = time.perf_counter() - t1 if peer.wait_built(600.0) else wait_idle(peer.pids())
    res["ingest"] = {"s": ingest_s, "per_s": w.n / ingest_s, "idle_after_s": idle_s}
    res["ingest_until_idle"] = {"per_s": w.n / (ingest_s + idle_s)}
    if peer.vector(w.queries[0]) is not None:
        lat, found = timed([lambda q=q: peer.vector(q) for q in w.queries])
        rows = [[int(k[1:]) for k in keys] for keys in found]
        res["vector"] = {**pct(lat), "recall_at_10": recall(rows, w.truth)}
    if peer.keyword(w.words[0]) is not None:
        lat, found = timed([lambda word=word: peer.keyword(word) for word in w.words])
        for word, keys in zip(w.words, found, strict=True):
            if any(word not in w.texts[int(k[1:])] for k in keys):
                raise AssertionError(f"{peer.name}: a keyword hit for {word!r} lacks it")
        res["keyword"] = {**pct(lat), "mean_hits": statistics.fmean(len(k) for k in found)}
    lat, texts = timed([lambda key=key: peer.get(key) for key in w.get_keys])
    for key, text in zip(w.get_keys, texts, strict=True):
        if text != w.texts[int(key[1:])]:
            raise AssertionError(f"{peer.name}: get({key}) returned {text!r}")
    res["get"] = pct(lat)
    stores = [lambda e=e: peer.store_one(*e) for e in w.extra]
    lat, _ = timed(stores[WARMUP:], warm=stores[:WARMUP])
    res["store"] = pct(lat)
    wait_idle(peer.pids(), timeout=120)
    res["rss_bytes"] = rss_bytes(peer.pids())
    res["disk_bytes"] = disk_bytes(peer.data_dir)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="memories ingested (default 100 000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200, help="vector and keyword queries")
    ap.add_argument("--gets", type=int, default=1000)
    ap.add_argument("--stores", type=int, default=200)
    ap.add_argument("--peers", default="memd,chroma,redis,redis-everysec")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    names = args.peers.split(",")
    known = makers()
    if "memd" not in names or any(n not in known for n in names):
        raise SystemExit(f"--peers: memd and any of {sorted(known)}")
    load0 = os.getloadavg()
    t = time.perf_counter()
    w = build(args.n, args.queries, args.gets, args.stores + WARMUP)
    took = time.perf_counter() - t
    print(f"workload: {args.n:,} memories, {args.queries} queries ({took:.1f} s)")
    rounds: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="memd-peers-") as tmp:
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                t = time.perf_counter()
                peer = known[name](Path(tmp))
                try:
                    rounds[name].append(one_round(peer, w))
                finally:
                    peer.close()
                print(f"round {r + 1}/{args.rounds} {name}: {time.perf_counter() - t:.1f} s")
    load1 = os.getloadavg()
    rows = table.rows(rounds)
    print()
    print(table.render(rows, names))
    print(f"\nload average (1, 5, 15 min) before {load0}, after {load1}; {os.cpu_count()} cores")
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_before": load0,
        "load_after": load1,
        "args": {k: str(v) for k, v in vars(args).items()},
        "rows": rows,
        "rounds": rounds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()
