"""What search hits without vectors save: hits with and without their embedding.

Since ``include_embedding`` (issue 13) a hit carries its vector only when the search
asks; asking reproduces the earlier behaviour exactly, so both are measured in the
same run, alternating round by round:

- ``daemon``: searches through a real daemon and the Python client, every hit read
  (with vectors, each hit's ``memory.embedding`` is read too, as the client unpacked
  every vector before lazy decoding; without, it is not there to read). Figures:
  median wall latency per search (p50), and the client process's CPU per search
  (``time.process_time`` over a round: protobuf parsing and the client's own objects),
  plus the bytes of one reply.
- ``engine``: the same searches in-process through ``memd.Engine.search`` (the engine's
  decode, and the PyO3 ``Memory`` objects): median time per search.

Workloads: semantic top ``--k`` (random unit query vectors) and keyword top
``--keyword-k`` (one word of the 500-word vocabulary). The default 8 000 memories stay
under the 10 000 vectors at which a namespace gets an HNSW graph, so no background
graph build runs during the measurement (the semantic searches are exact scans).

Usage: ``python bench/hit_vectors.py [--memories 8000] [--dim 384] [--k 10]
[--keyword-k 100] [--rounds 9] [--searches 100]``. Ratios are without / with (below
1: cheaper).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "clients" / "python"))

from daemon_launcher import Daemon  # noqa: E402
from memd_client import Client, pack_embedding  # noqa: E402

import memd  # noqa: E402

NS = "bench:hits"


def unit(rng: random.Random, dim: int) -> list[float]:
    v = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = sum(x * x for x in v) ** 0.5
    return [x / norm for x in v]


def corpus(n: int, dim: int, rng: random.Random) -> list[dict[str, object]]:
    words = [f"w{i:03}" for i in range(500)]
    return [
        {
            "key": f"m{i:07}",
            "text": " ".join(rng.choice(words) for _ in range(25)),
            "embedding": pack_embedding(unit(rng, dim)),
        }
        for i in range(n)
    ]


def rounds(
    run: Callable[[bool], tuple[float, float]], n_rounds: int
) -> dict[bool, list[tuple[float, float]]]:
    """``run(include)`` per round for both settings, alternating which goes first."""
    out: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    run(True), run(False)  # warm-up
    for r in range(n_rounds):
        for include in (True, False) if r % 2 else (False, True):
            out[include].append(run(include))
    return out


def report(name: str, label: str, got: dict[bool, list[tuple[float, float]]], i: int) -> None:
    with_v = statistics.median(x[i] for x in got[True])
    without = statistics.median(x[i] for x in got[False])
    print(f"{name:<20} {label:<22} {with_v:>10.1f} {without:>10.1f} {without / with_v:>7.2f}")


def workloads(args: argparse.Namespace, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Per workload, its queries (``Client.search`` arguments, ``limit`` included)."""
    return {
        f"semantic top {args.k}": [
            {"embedding": pack_embedding(unit(rng, args.dim)), "limit": args.k}
            for _ in range(args.searches)
        ],
        f"keyword top {args.keyword_k}": [
            {"query": f"w{rng.randrange(500):03}", "limit": args.keyword_k}
            for _ in range(args.searches)
        ],
    }


def remote(client: Client, queries: list[dict[str, Any]], include: bool) -> tuple[float, float]:
    """(p50 wall us, client CPU us) per search of ``queries`` through the daemon."""
    lat = []
    cpu0 = time.process_time()
    for q in queries:
        t0 = time.perf_counter()
        for h in client.search(NS, include_embedding=include, **q):
            # What every hit cost a client before: its vector unpacked.
            assert h.memory.key and (not include or h.memory.embedding)
        lat.append(time.perf_counter() - t0)
    cpu = (time.process_time() - cpu0) / len(queries)
    return statistics.median(lat) * 1e6, cpu * 1e6


def local(
    engine: memd.Engine, queries: list[memd.SearchQuery], include: bool
) -> tuple[float, float]:
    """(mean us per search, 0) of ``queries`` in-process."""
    t0 = time.perf_counter()
    for q in queries:
        engine.search(dataclasses.replace(q, include_embedding=include))
    return (time.perf_counter() - t0) / len(queries) * 1e6, 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=8_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10, help="hits per semantic search")
    parser.add_argument("--keyword-k", type=int, default=100, help="hits per keyword search")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--searches", type=int, default=100, help="per round and workload")
    args = parser.parse_args()
    rng = random.Random(13)
    items = corpus(args.memories, args.dim, rng)
    loads = workloads(args, rng)
    print(
        f"{args.memories} memories, {args.dim}-d, {args.searches} searches x {args.rounds} "
        "rounds per workload (medians); with = include_embedding and every vector read"
    )
    print(f"{'':<20} {'':<22} {'with':>10} {'without':>10} {'ratio':>7}")
    with tempfile.TemporaryDirectory(prefix="memd-hit-vectors-") as tmp:
        daemon = Daemon(Path(tmp) / "d", "--engine-durability", "nosync")
        try:
            with Client(daemon.address) as client:
                client.bulk_store(NS, items, batch_size=500)
                for name, queries in loads.items():
                    got = rounds(partial(remote, client, queries), args.rounds)
                    report(name, "daemon p50 us", got, 0)
                    report(name, "client CPU us/search", got, 1)
                    plain = list(client.search(NS, **queries[0]))  # type: ignore[arg-type]
                    assert plain and all(h.memory.embedding_bytes == b"" for h in plain)
                    print(
                        f"{name:<20} {'reply bytes':<22} {reply_bytes(daemon.address, queries[0])}"
                    )
        finally:
            daemon.close()
        engine = memd.Engine(str(Path(tmp) / "e"), memd.EngineOptions(durability="nosync"))
        try:
            engine.put_many(NS, [memd.NewMemory(**m) for m in items])  # type: ignore[arg-type]
            for name, queries in loads.items():
                engine_queries = [
                    memd.SearchQuery(
                        NS,
                        text=str(q.get("query", "")),
                        vector=q.get("embedding"),  # type: ignore[arg-type]
                        k=int(q["limit"]),  # type: ignore[call-overload]
                    )
                    for q in queries
                ]

                got = rounds(partial(local, engine, engine_queries), args.rounds)
                report(name, "engine us/search", got, 0)
        finally:
            engine.close()
    return 0


def reply_bytes(address: str, query: dict[str, Any]) -> str:
    """The encoded size of one search's reply, with and without vectors."""
    import grpc

    from memd._pb.v1 import memory_service_pb2 as pb
    from memd._pb.v1 import memory_service_pb2_grpc as rpc

    with grpc.insecure_channel(address) as channel:
        stub = rpc.MemoryServiceStub(channel)
        sizes = []
        for include in (True, False):
            req = pb.SearchRequest(namespace=NS, include_embedding=include, **query)  # type: ignore[arg-type]
            sizes.append(sum(page.ByteSize() for page in stub.Search(req)))
    return f"{sizes[0]} with, {sizes[1]} without ({sizes[1] / sizes[0]:.2f})"


if __name__ == "__main__":
    sys.exit(main())
