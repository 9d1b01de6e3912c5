"""What tracing costs: unary Retrieve through ghz, tracing off vs on (docs/tracing.md).

Daemons serve the same Retrieve load (one key per call from 10 000 stored keys, 16
concurrent callers over 2 connections, each call carrying a sampled W3C ``traceparent``
as an instrumented agent's would), each fresh for every round:

- ``before`` (only with ``--before REV``): the memd package as it was at git revision
  REV, without the tracing hook: the "before" of "tracing off costs nothing";
- ``off``: this tree with tracing off (the default);
- ``on``: ``--tracing-enabled --tracing-exporter none``: a span per call, made, filled
  and ended, exported nowhere (the cost of tracing itself);
- ``on+otlp``: tracing on with OTLP/gRPC export to a sink in this process that
  discards what it gets (adds the batch processor's encoding and sending).

As in auth_bench.py, by default the variants' daemons run at the same time, pinned
together on core 0 with every ghz on core 1, so each round compares them under the same
load from neighbours; rounds alternate the order, and the figures are medians with their
ratio to ``off`` taken round by round. Two figures per variant: calls per second, and the
daemon's CPU time per call (what sets its capacity on a busy core).

Usage: ``bash bench/grpc/setup.sh && python bench/grpc/tracing_bench.py [--repeats 5]
[--before REV] [--one-at-a-time]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc
from auth_bench import measure_round
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as tpb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as tpb_grpc
from run import (
    REPO,
    RETRIEVE_KEYS,
    Scenario,
    free_port,
    ghz_path,
    populate,
    start_server,
)

VARIANTS = ("before", "off", "on", "on+otlp")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class _Sink(tpb_grpc.TraceServiceServicer):  # type: ignore[misc]
    """An OTLP trace receiver that accepts everything and keeps nothing."""

    def Export(self, request: Any, context: Any) -> Any:
        return tpb.ExportTraceServiceResponse()


def scenario(variant: str, sink: str) -> Scenario:
    flags: tuple[str, ...] = ()
    if variant == "on":
        flags = ("--tracing-enabled", "--tracing-exporter", "none")
    elif variant == "on+otlp":
        flags = ("--tracing-enabled", "--tracing-endpoint", sink)
    retrieve = {"namespace": "bench", "keys": [f"k{{{{mod .RequestNumber {RETRIEVE_KEYS}}}}}"]}
    metadata = '{"traceparent": "%s"}' % TRACEPARENT  # noqa: UP031 (ghz wants JSON)
    return Scenario(
        f"Retrieve, {variant}",
        "memd",
        "Retrieve",
        retrieve,
        flags=flags,
        ghz_flags=("--insecure", "--metadata", metadata),
    )


def checkout(rev: str, into: Path) -> Path:
    """The ``memd`` package at ``rev`` under ``into``, with this tree's built extension.

    ``python -m memd`` imports ``memd`` from its working directory first, so a daemon
    started in ``into`` runs that code (the Rust extension is the same build).
    """
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "memd"],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True)
    archive_path = into / "memd.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(into, filter="data")
    for ext in (REPO / "memd").glob("_core*.so"):
        shutil.copy2(ext, into / "memd" / ext.name)
    return into


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@dataclass(frozen=True)
class Setup:
    """What every round's daemons share."""

    sink: str  # the OTLP sink's URL
    before: Path | None  # the checkout of --before
    tmp: Path
    pinned: bool


@contextmanager
def daemon(variant: str, setup: Setup) -> Iterator[tuple[int, Scenario, int]]:
    """A fresh daemon of ``variant`` holding the Retrieve keys: (port, scenario, pid)."""
    port, data_dir = free_port(), setup.tmp / f"data-{time.monotonic_ns()}"
    sc = scenario(variant, setup.sink)
    root = setup.before if variant == "before" and setup.before else REPO
    with _cwd(root):
        proc = start_server(sc, port, data_dir, setup.pinned)
    try:
        populate(port)
        yield port, sc, proc.pid
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per ghz run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also run memd as of git revision REV")
    parser.add_argument(
        "--one-at-a-time", action="store_true", help="run the variants one after another"
    )
    args = parser.parse_args()
    ghz = ghz_path()
    pinned = shutil.which("taskset") is not None
    variants = [v for v in VARIANTS if v != "before" or args.before]
    qps: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    sink = grpc.server(futures.ThreadPoolExecutor(4))
    tpb_grpc.add_TraceServiceServicer_to_server(_Sink(), sink)
    sink_port = sink.add_insecure_port("127.0.0.1:0")
    sink.start()
    with tempfile.TemporaryDirectory(prefix="memd-tracing-bench-") as tmpdir:
        tmp = Path(tmpdir)
        before = checkout(args.before, tmp / "before") if args.before else None
        setup = Setup(f"http://127.0.0.1:{sink_port}", before, tmp, pinned)
        for r in range(args.repeats):
            order = variants if r % 2 == 0 else variants[::-1]
            start = partial(daemon, setup=setup)
            together = not args.one_at_a_time
            measured = measure_round(ghz, order, start, args.duration, pinned, together)
            for variant, (rate, us) in measured.items():
                qps[variant].append(rate)
                cpu[variant].append(us)
            print(
                f"round {r + 1}: "
                + ", ".join(f"{v} {qps[v][-1]:,.0f}/s {cpu[v][-1]:.0f} us" for v in variants),
                flush=True,
            )
    sink.stop(None)
    report(variants, qps, cpu, args, pinned)
    return 0


def report(
    variants: list[str],
    qps: dict[str, list[float]],
    cpu: dict[str, list[float]],
    args: argparse.Namespace,
    pinned: bool,
) -> None:
    """Medians, and ratios to ``off`` taken round by round (the rounds share the load)."""
    print(
        f"\nRetrieve, 1 key, sampled traceparent on every call, ghz -c 16, "
        f"{'pinned' if pinned else 'unpinned'}, "
        f"{'one at a time' if args.one_at_a_time else 'variants at the same time'}, "
        f"median of {args.repeats} x {args.duration:g} s"
        + (f", before = {args.before}" if args.before else "")
    )
    print(
        "| variant | calls/s | calls/s / off | daemon CPU per call | extra CPU per call | "
        "capacity (CPU) / off |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    off_qps, off_cpu = qps["off"], cpu["off"]
    for v in variants:
        rate = statistics.median([q / o for q, o in zip(qps[v], off_qps, strict=True)])
        extra = statistics.median([c - o for c, o in zip(cpu[v], off_cpu, strict=True)])
        capacity = statistics.median([o / c for c, o in zip(cpu[v], off_cpu, strict=True)])
        print(
            f"| {v} | {statistics.median(qps[v]):,.0f} | {rate:.3f} | "
            f"{statistics.median(cpu[v]):.0f} us | {extra:+.0f} us | {capacity:.3f} |"
        )
    if args.before:
        per_round = [o / b for o, b in zip(off_qps, qps["before"], strict=True)]
        print(
            f"\ntracing off / before: {statistics.median(per_round):.3f} in calls/s "
            f"(per round: {', '.join(f'{x:.3f}' for x in per_round)})"
        )


if __name__ == "__main__":
    sys.exit(main())
