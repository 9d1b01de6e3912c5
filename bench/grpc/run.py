"""ghz load test of memd against an empty-handler server of the same proto.

For each scenario it starts a fresh server (memd on a temporary store, or
bench/grpc/empty_server.py), runs ghz three times and reports the median QPS, p50 and
p99, and the ratio to the empty handler's figures from the same job. Everything runs
twice: pinned (server on core 0, ghz on core 1, via taskset) and unpinned.

Scenarios (the same request data for memd and the empty handler):
- Retrieve, unary: one key per call, from 10 000 stored keys;
- Store, unary: one memory per call;
- StoreStream: streams of 5 batches of 1 000 memories (server-made keys), reported in
  memories per second; the floor is the empty handler answering the same stream;
- the empty handler in the asyncio flavour, for the flavour choice (docs/daemon.md).

Usage: ``bash bench/grpc/setup.sh && python bench/grpc/run.py [--duration 5] [--quick]``.
Results are also written to bench/out/grpc-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import grpc  # noqa: E402
from google.protobuf.internal.encoder import _VarintBytes  # noqa: E402

from memd._pb.v1 import memory_pb2 as mpb  # noqa: E402
from memd._pb.v1 import memory_service_pb2 as pb  # noqa: E402
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc  # noqa: E402

SERVICE = "memd.v1.MemoryService"
TEXT = "the agent learned that the user prefers short answers in the morning"
RETRIEVE_KEYS = 10_000
STREAM_BATCHES, BATCH_ITEMS = 5, 1_000
# fsync per commit (the default) vs periodic fsync: shows what durability costs here.
NOSYNC = ("--engine-durability", "nosync")


@dataclass
class Scenario:
    name: str
    server: str  # "memd", "empty-threads" or "empty-aio"
    method: str
    data: dict[str, Any] | None = None
    binary: Path | None = None
    items_per_call: int = 1
    concurrency: int = 16
    floor: str | None = None  # scenario whose figures are the baseline
    flags: tuple[str, ...] = ()  # extra `memd serve` flags
    ghz_flags: tuple[str, ...] = ("--insecure",)  # transport and metadata flags of ghz
    results: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ghz_path() -> str:
    gobin = (
        Path(
            subprocess.run(
                ["go", "env", "GOPATH"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        / "bin"
        / "ghz"
    )
    found = shutil.which("ghz") or (str(gobin) if gobin.exists() else None)
    if not found:
        sys.exit("ghz not found: run bash bench/grpc/setup.sh")
    return found


def start_server(
    sc: Scenario,
    port: int,
    data_dir: Path,
    pinned: bool,
    ready_timeout_s: float = 60,
    credentials: grpc.ChannelCredentials | None = None,
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kind = sc.server
    if kind == "memd":
        cmd = [
            sys.executable,
            "-m",
            "memd",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--metrics-listen",
            "off",
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
            # The load repeats one text under many keys: measure stores, not dedup merges.
            "--dedup-exact",
            "false",
            # Storing, not a model: with the dev extras `auto` would embed every text.
            "--embed-backend",
            "none",
            *sc.flags,
        ]
    else:
        cmd = [
            sys.executable,
            str(REPO / "bench/grpc/empty_server.py"),
            "--listen",
            f"127.0.0.1:{port}",
            "--flavour",
            kind.removeprefix("empty-"),
        ]
    if pinned:
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = f"127.0.0.1:{port}"
    channel = (
        grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    )
    try:
        grpc.channel_ready_future(channel).result(timeout=ready_timeout_s)
    finally:
        channel.close()
    return proc


@contextmanager
def serving(sc: Scenario, tmp: Path, pinned: bool) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A fresh server for ``sc`` on a new store under ``tmp``: its process and port."""
    port = free_port()
    proc = start_server(sc, port, tmp / f"data-{time.monotonic_ns()}", pinned)
    try:
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(60)


def populate(port: int, channel: grpc.Channel | None = None) -> None:
    """Store the keys the Retrieve scenario reads (over ``channel`` if given)."""
    with channel or grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.MemoryServiceStub(channel)
        requests = (
            pb.StoreRequest(
                namespace="bench",
                memories=[
                    mpb.NewMemory(key=f"k{i}", text=TEXT) for i in range(start, start + 1000)
                ],
            )
            for start in range(0, RETRIEVE_KEYS, 1000)
        )
        for _ in stub.StoreStream(requests):
            pass


def run_ghz(ghz: str, sc: Scenario, port: int, duration: float, pinned: bool) -> dict[str, float]:
    cmd = [
        ghz,
        *sc.ghz_flags,
        "--call",
        f"{SERVICE}.{sc.method}",
        "-c",
        str(sc.concurrency),
        "--connections",
        str(min(2, sc.concurrency)),  # ghz refuses more connections than streams
        "-z",
        f"{duration}s",
        "--duration-stop",
        "wait",
        "--format",
        "json",
        f"127.0.0.1:{port}",
    ]
    if sc.binary is not None:
        cmd[1:1] = ["-B", str(sc.binary)]
    else:
        cmd[1:1] = ["-d", json.dumps(sc.data)]
    if pinned:
        cmd = ["taskset", "-c", "1", *cmd]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    lat = {d["percentage"]: d["latency"] / 1e6 for d in out.get("latencyDistribution") or []}
    ok = out.get("statusCodeDistribution", {}).get("OK", 0)
    errors = sum(v for k, v in out.get("statusCodeDistribution", {}).items() if k != "OK")
    return {
        "qps": ok / (out["total"] / 1e9) if out["total"] else 0.0,
        "p50_ms": lat.get(50, 0.0),
        "p99_ms": lat.get(99, 0.0),
        "errors": float(errors),
        "calls": float(ok),
    }


def stream_file(tmp: Path) -> Path:
    path = tmp / "stream.bin"
    with path.open("wb") as fh:
        for b in range(STREAM_BATCHES):
            msg = pb.StoreRequest(
                namespace="bench-stream",
                batch_id=b,
                memories=[mpb.NewMemory(text=f"{TEXT} #{i}") for i in range(BATCH_ITEMS)],
            )
            data = msg.SerializeToString()
            fh.write(_VarintBytes(len(data)) + data)  # ghz reads length-prefixed messages
    return path


def scenarios(tmp: Path) -> list[Scenario]:
    retrieve = {"namespace": "bench", "keys": [f"k{{{{mod .RequestNumber {RETRIEVE_KEYS}}}}}"]}
    store = {"namespace": "bench-unary", "memories": [{"key": "u{{.RequestNumber}}", "text": TEXT}]}
    stream = stream_file(tmp)
    items = STREAM_BATCHES * BATCH_ITEMS
    return [
        Scenario("empty Retrieve (threads)", "empty-threads", "Retrieve", retrieve),
        Scenario(
            "empty Retrieve (aio)",
            "empty-aio",
            "Retrieve",
            retrieve,
            floor="empty Retrieve (threads)",
        ),
        Scenario("memd Retrieve", "memd", "Retrieve", retrieve, floor="empty Retrieve (threads)"),
        Scenario("empty Store (threads)", "empty-threads", "Store", store),
        Scenario("memd Store", "memd", "Store", store, floor="empty Store (threads)"),
        Scenario(
            "memd Store (nosync)",
            "memd",
            "Store",
            store,
            floor="empty Store (threads)",
            flags=NOSYNC,
        ),
        Scenario(
            "empty StoreStream",
            "empty-threads",
            "StoreStream",
            binary=stream,
            items_per_call=items,
            concurrency=2,
        ),
        Scenario(
            "memd StoreStream",
            "memd",
            "StoreStream",
            binary=stream,
            items_per_call=items,
            concurrency=2,
            floor="empty StoreStream",
        ),
        Scenario(
            "memd StoreStream (nosync)",
            "memd",
            "StoreStream",
            binary=stream,
            items_per_call=items,
            concurrency=2,
            floor="empty StoreStream",
            flags=NOSYNC,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per ghz run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="pinned only, one repetition")
    args = parser.parse_args()
    ghz = ghz_path()
    modes = [True] if args.quick else [True, False]
    repeats = 1 if args.quick else args.repeats
    if not shutil.which("taskset"):
        modes = [False]
    with tempfile.TemporaryDirectory(prefix="memd-bench-") as tmpdir:
        tmp = Path(tmpdir)
        all_scenarios = scenarios(tmp)
        for pinned in modes:
            mode = "pinned" if pinned else "unpinned"
            for sc in all_scenarios:
                runs = sc.results.setdefault(mode, [])
                for _ in range(repeats):
                    runs.append(one_run(ghz, sc, tmp, args.duration, pinned))
                print(f"{mode:8} {sc.name:26} {summary(sc, mode)}", flush=True)
        report(all_scenarios, modes, args)
    return 0


def one_run(ghz: str, sc: Scenario, tmp: Path, duration: float, pinned: bool) -> dict[str, float]:
    """A fresh server and one ghz run; retried once (a shared machine can drop a run)."""
    for attempt in (1, 2):
        port = free_port()
        data_dir = tmp / f"data-{time.monotonic_ns()}"
        proc = start_server(sc, port, data_dir, pinned)
        try:
            if sc.server == "memd" and sc.method == "Retrieve":
                populate(port)
            return run_ghz(ghz, sc, port, duration, pinned)
        except subprocess.CalledProcessError as exc:
            print(f"  ghz failed (attempt {attempt}): {exc.stderr.strip()[:300]}", flush=True)
            if attempt == 2:
                raise
        finally:
            proc.terminate()
            proc.wait(60)
            shutil.rmtree(data_dir, ignore_errors=True)
    raise AssertionError("unreachable")


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def summary(sc: Scenario, mode: str) -> str:
    runs = sc.results[mode]
    qps = median(runs, "qps")
    items = f" = {qps * sc.items_per_call:,.0f} memories/s" if sc.items_per_call > 1 else ""
    errors = (
        f" errors={sum(r['errors'] for r in runs):.0f}" if any(r["errors"] for r in runs) else ""
    )
    return (
        f"{qps:9.1f} calls/s{items}  p50 {median(runs, 'p50_ms'):7.2f} ms  "
        f"p99 {median(runs, 'p99_ms'):7.2f} ms{errors}"
    )


def report(all_scenarios: list[Scenario], modes: list[bool], args: argparse.Namespace) -> None:
    by_name = {sc.name: sc for sc in all_scenarios}
    rows = []
    print("\n| mode | scenario | QPS | memories/s | p50 ms | p99 ms | ratio to floor |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for pinned in modes:
        mode = "pinned" if pinned else "unpinned"
        for sc in all_scenarios:
            runs = sc.results[mode]
            qps = median(runs, "qps")
            ratio = ""
            if sc.floor:
                ratio = f"{qps / median(by_name[sc.floor].results[mode], 'qps'):.2f}"
            row = {
                "mode": mode,
                "scenario": sc.name,
                "qps": qps,
                "memories_per_s": qps * sc.items_per_call,
                "p50_ms": median(runs, "p50_ms"),
                "p99_ms": median(runs, "p99_ms"),
                "ratio": ratio,
                "runs": runs,
            }
            rows.append(row)
            print(
                f"| {mode} | {sc.name} | {qps:.0f} | {qps * sc.items_per_call:,.0f} | "
                f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {ratio} |"
            )
        unary = median(by_name["memd Store"].results[mode], "qps")
        stream = (
            median(by_name["memd StoreStream"].results[mode], "qps") * STREAM_BATCHES * BATCH_ITEMS
        )
        print(
            f"| {mode} | batched ingest / unary Store (memories/s) | | | | | {stream / unary:.1f} |"
        )
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"grpc-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    print(f"\nwritten to {path.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())
