"""Offload and read-back rates of the object-storage archive, against local reads.

    .venv/bin/python bench/archive_bench.py              # 5 000 memories of 2 KiB, 3 rounds
    .venv/bin/python bench/archive_bench.py --n 20000 --value-bytes 4096

In-process (``memd.Engine``, nosync) against a real S3 server on this machine (s3s-fs,
``make s3-server``; tests/archive/s3server.py), per round on a fresh store:

- local read (the baseline): ``get_many`` of every key in batches of 100, no access
  counted, before offloading;
- offload: ``archive_pass`` until everything is offloaded (lz4, XChaCha20-Poly1305,
  one PUT per ``--object-bytes`` object, pointers committed), in memories/s and MB/s of
  values;
- cold read: the same reads just after the archive is configured anew (empty cache):
  every object fetched once, opened, then the rest of its memories from the cache;
- cold single read: one key, empty cache (one GET and the opening of its object), ms;
- cached read: the same reads again, every object in the cache.

Prints the medians of ``--rounds`` rounds and the ratios of the read rates to the
local read of the same round.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "archive"))

from s3server import ACCESS_KEY, SECRET_KEY, S3Server  # noqa: E402

from memd.archive.setup import ArchiveSetup  # noqa: E402
from memd.engine import Engine  # noqa: E402
from memd.types import EngineOptions, NewMemory, Tier  # noqa: E402

BATCH = 100


def setup(endpoint: str, bucket: str, key: bytes, object_bytes: int) -> ArchiveSetup:
    return ArchiveSetup(
        endpoint=endpoint,
        bucket=bucket,
        region="us-east-1",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        timeout_ms=30_000,
        prefix="bench/",
        key=key,
        old_keys=[],
        offload_after_ms=0,
        offload_min_bytes=1,
        offload_large_bytes=0,
        object_bytes=object_bytes,
        max_objects=1_000,
        cache_bytes=1 << 30,
    )


def read_all(engine: Engine, keys: list[str]) -> float:
    start = time.perf_counter()
    for i in range(0, len(keys), BATCH):
        got = engine.get_many("bench", keys[i : i + BATCH], count_access=False)
        assert all(m is not None for m in got)
    return time.perf_counter() - start


def one_round(args: argparse.Namespace, work: Path) -> dict[str, float]:
    s3 = S3Server(work / "s3").start()
    try:
        key = secrets.token_hex(32).encode()
        arch = setup(s3.endpoint, s3.bucket, key, args.object_bytes)
        options = EngineOptions(durability="nosync")
        engine = Engine(work / "data", options)
        try:
            # Half random (incompressible), half repeated text: like JSON with ids.
            items = [
                NewMemory(
                    key=f"k{i:07d}",
                    text=f"memory {i}",
                    value=os.urandom(args.value_bytes // 4).hex().encode()[: args.value_bytes // 2]
                    + b"x" * (args.value_bytes - args.value_bytes // 2),
                    tier=Tier.ARCHIVE,
                )
                for i in range(args.n)
            ]
            for i in range(0, len(items), 1000):
                engine.put_many("bench", items[i : i + 1000])
            keys = [m.key for m in items]
            local = read_all(engine, keys)
            engine.configure_archive(arch)
            start = time.perf_counter()
            offloaded = 0
            while offloaded < args.n:
                report = engine.archive_pass()
                assert report.offloaded, "a pass offloaded nothing"
                offloaded += report.offloaded
            offload = time.perf_counter() - start
            engine.configure_archive(arch)  # a new archive: an empty cache
            cold = read_all(engine, keys)
            cached = read_all(engine, keys)
            engine.configure_archive(arch)
            start = time.perf_counter()
            assert engine.get_many("bench", [keys[len(keys) // 2]], count_access=False)[0]
            single = time.perf_counter() - start
        finally:
            engine.close()
        return {
            "local": args.n / local,
            "offload": args.n / offload,
            "offload_mb": args.n * args.value_bytes / offload / 1e6,
            "cold": args.n / cold,
            "cached": args.n / cached,
            "single_ms": single * 1e3,
            "objects": float(len(s3.objects())),
        }
    finally:
        s3.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000)
    parser.add_argument("--value-bytes", type=int, default=2048)
    parser.add_argument("--object-bytes", type=int, default=8 << 20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="memd-archive-bench-") as tmp:
            rounds.append(one_round(args, Path(tmp)))
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ratio = {k: statistics.median(r[k] / r["local"] for r in rounds) for k in ("cold", "cached")}
    print(
        f"archive bench: {args.n} memories x {args.value_bytes} B values, "
        f"{args.object_bytes >> 20} MiB objects ({med['objects']:.0f}), "
        f"median of {args.rounds} rounds"
    )
    print("| measure | rate | vs local read |")
    print("|---|---|---|")
    print(f"| local read (baseline, batches of {BATCH}) | {med['local']:,.0f} memories/s | 1.00 |")
    print(
        f"| offload | {med['offload']:,.0f} memories/s, {med['offload_mb']:.1f} MB/s of values | |"
    )
    print(f"| cold read (empty cache) | {med['cold']:,.0f} memories/s | {ratio['cold']:.2f} |")
    print(f"| cached read | {med['cached']:,.0f} memories/s | {ratio['cached']:.2f} |")
    print(f"| cold single read (one GET + open) | {med['single_ms']:.1f} ms | |")


if __name__ == "__main__":
    main()
