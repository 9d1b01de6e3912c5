"""What MemdStore (memd_client.langgraph) costs over the plain client doing the same RPCs.

    python bench/langgraph_store.py [--reps 5] [--n 200] [--items 2000]

Starts a daemon (default durability: sync) on a temporary directory. Each case runs
``--n`` operations through ``MemdStore`` and the same requests through
``memd_client.Client`` directly, alternating the two, ``--reps`` times; figures are
medians of per-operation latency, and the ratio is store / client in the same run
(this machine is shared and noisy: only same-run ratios mean anything). The store
does JSON, metadata, the namespace mapping and, for a search, one Stats call for the
namespaces under the prefix, so the ratio is what the LangGraph interface costs.
InMemoryStore's latency is printed for scale, not as a baseline.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / d) for d in ("tests", "tests/langgraph", "clients/python")]

from daemon_launcher import Daemon  # noqa: E402
from langgraph.store.memory import InMemoryStore  # noqa: E402
from lg_common import INDEX, embed, embed_one  # noqa: E402
from memd_client import Client  # noqa: E402
from memd_client.langgraph import MemdStore  # noqa: E402


def per_op_us(fn: Callable[[int], object], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--items", type=int, default=2000)
    args = ap.parse_args()
    daemon = Daemon(Path(tempfile.mkdtemp(prefix="lg-bench-")) / "data")
    try:
        run(daemon.address, args)
    finally:
        daemon.close()


def run(target: str, args: argparse.Namespace) -> None:
    client = Client(target)
    store = MemdStore(client, index=INDEX)
    memory = InMemoryStore(index=INDEX)  # type: ignore[arg-type]
    ns, raw_ns = ("bench", "s"), "langgraph/bench/s"
    text = "note {} about green tea and the weather in kyoto"

    def value(i: int) -> dict[str, object]:
        return {"text": text.format(i), "kind": "note", "n": i}

    for i in range(args.items):  # the searched namespace
        store.put(("bench", "search"), f"k{i:05d}", value(i))
        memory.put(("bench", "search"), f"k{i:05d}", value(i))
    query = embed_one("green tea in kyoto")
    searched = "langgraph/bench/search"

    def raw_put(i: int) -> object:
        t = text.format(i)
        memory = {"key": f"p{i}", "text": t, "value": b"{}", "embedding": embed([t])[0]}
        return client.store(raw_ns, [memory], atomic=True)

    def raw_search(i: int) -> object:
        hits = client.search(
            searched, embedding=query, limit=10, explain=True, weights={"relevance": 1.0}
        )
        return list(hits)

    # Reads peek (refresh_ttl=False): counted reads would promote the keys after three,
    # and a promotion is a write, charged to whichever side read third.
    cases: dict[str, tuple[Callable[[int], object], ...]] = {
        "put": (
            lambda i: store.put(ns, f"p{i}", value(i)),
            raw_put,
            lambda i: memory.put(ns, f"p{i}", value(i)),
        ),
        "get": (
            lambda i: store.get(ns, f"p{i}", refresh_ttl=False),
            lambda i: client.get(raw_ns, [f"p{i}"], peek=True),
            lambda i: memory.get(ns, f"p{i}"),
        ),
        f"search, query, limit 10, {args.items} items": (
            lambda i: store.search(("bench", "search"), query="green tea in kyoto"),
            raw_search,
            lambda i: memory.search(("bench", "search"), query="green tea in kyoto"),
        ),
        "search, no query, limit 10": (
            lambda i: store.search(("bench", "search")),
            lambda i: list(itertools.islice(client.list(searched, page_size=100), 10)),
            lambda i: memory.search(("bench", "search")),
        ),
    }
    print("| case | MemdStore | Client | ratio | InMemoryStore |\n|---|---:|---:|---:|---:|")
    for name, (lg, raw, mem) in cases.items():
        sides: dict[str, list[float]] = {"lg": [], "raw": [], "mem": []}
        for _ in range(args.reps):
            sides["lg"].append(per_op_us(lg, args.n))
            sides["raw"].append(per_op_us(raw, args.n))
            sides["mem"].append(per_op_us(mem, args.n))
        m = {k: statistics.median(v) for k, v in sides.items()}
        ratio = m["lg"] / m["raw"]
        lg, raw, mem = (f"{m[k]:,.0f} µs" for k in ("lg", "raw", "mem"))
        print(f"| {name} | {lg} | {raw} | {ratio:.2f} | {mem} |")
    client.close()


if __name__ == "__main__":
    main()
