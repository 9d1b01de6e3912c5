"""What access control and TLS cost: unary Retrieve through ghz, auth off vs on.

Four daemons serve the same Retrieve load (one key per call from 10 000 stored keys,
16 concurrent callers over 2 connections), each fresh for every run:

- ``off``: plaintext, auth off (the baseline);
- ``token``: plaintext, ``--auth required``, ghz sends a token (a stored token granting
  READ on the namespace, so the lookup is the common path, not the admin file's);
- ``tls``: TLS, auth off;
- ``mtls+token``: mutual TLS and a token.

The runs are interleaved (off, token, tls, mtls+token, then the reverse, ...) so that
a noisy neighbour slows every variant alike, and the figures are medians with their ratio to
``off`` from the same job. Pinned: server on core 0, ghz on core 1 (taskset).

Two figures per variant: calls per second, and the daemon's CPU time per call (user +
system of every thread, from /proc, over the ghz run). The pinned daemon is CPU-bound,
so CPU per call is what sets its capacity; both move by +-15 % between identical
runs on this shared machine, hence the interleaving and the medians.

Usage: ``bash bench/grpc/setup.sh && python bench/grpc/auth_bench.py [--repeats 5]``.
The issue's target: token / off >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402
from daemon_tls import TlsFiles, make_tls  # noqa: E402
from run import (  # noqa: E402
    RETRIEVE_KEYS,
    Scenario,
    free_port,
    ghz_path,
    populate,
    run_ghz,
    start_server,
)

from memd._pb.v1 import auth_service_pb2 as apb  # noqa: E402
from memd._pb.v1 import auth_service_pb2_grpc as apb_grpc  # noqa: E402

ADMIN = "bench-admin-token-" + "0" * 24
VARIANTS = ("off", "token", "tls", "mtls+token")


def credentials(variant: str, tls: TlsFiles, token: str) -> grpc.ChannelCredentials | None:
    """How a Python client reaches the variant's daemon (None: plaintext, no token)."""
    creds = None
    if "tls" in variant:
        client = (tls.client_key.read_bytes(), tls.client_cert.read_bytes())
        creds = grpc.ssl_channel_credentials(
            tls.ca_cert.read_bytes(), *(client if variant.startswith("mtls") else (None, None))
        )
    if "token" in variant:
        base = creds or grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP)
        creds = grpc.composite_channel_credentials(base, grpc.access_token_call_credentials(token))
    return creds


def scenario(variant: str, tls: TlsFiles, token: str, admin_file: Path) -> Scenario:
    flags: list[str] = []
    ghz: list[str] = ["--insecure"]
    if "token" in variant:
        flags += ["--auth", "required", "--admin-token-file", str(admin_file)]
    if "tls" in variant:
        flags += ["--tls-cert", str(tls.server_cert), "--tls-key", str(tls.server_key)]
        ghz = ["--cacert", str(tls.ca_cert)]
    if variant.startswith("mtls"):
        flags += ["--tls-client-ca", str(tls.ca_cert)]
        ghz += ["--cert", str(tls.client_cert), "--key", str(tls.client_key)]
    if token and "token" in variant:
        ghz += ["--metadata", json.dumps({"authorization": f"Bearer {token}"})]
    retrieve = {"namespace": "bench", "keys": [f"k{{{{mod .RequestNumber {RETRIEVE_KEYS}}}}}"]}
    return Scenario(
        f"Retrieve, {variant}",
        "memd",
        "Retrieve",
        retrieve,
        flags=tuple(flags),
        ghz_flags=tuple(ghz),
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def daemon(
    variant: str, tls: TlsFiles, tmp: Path, pinned: bool
) -> Iterator[tuple[int, Scenario, int]]:
    """A fresh daemon of ``variant`` holding the Retrieve keys: (port, ghz scenario, pid)."""
    admin_file = tmp / "admin.token"
    admin_file.write_text(ADMIN)
    port, data_dir = free_port(), tmp / f"data-{time.monotonic_ns()}"
    admin_creds = credentials(variant, tls, ADMIN)
    proc = start_server(
        scenario(variant, tls, "", admin_file), port, data_dir, pinned, credentials=admin_creds
    )
    try:
        target = f"127.0.0.1:{port}"
        token = ""
        if "token" in variant:
            with grpc.secure_channel(target, admin_creds) as ch:  # type: ignore[arg-type]
                grant = apb.Grant(namespace="bench", actions=[apb.ACTION_READ])
                stub = apb_grpc.AuthServiceStub(ch)  # type: ignore[no-untyped-call]
                token = stub.CreateToken(apb.CreateTokenRequest(label="ghz", grants=[grant])).token
        channel = grpc.secure_channel(target, admin_creds) if admin_creds else None
        populate(port, channel)
        yield port, scenario(variant, tls, token, admin_file), proc.pid
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(
    ghz: str, port: int, sc: Scenario, pid: int, duration: float, pinned: bool
) -> tuple[float, float]:
    """(calls per second, daemon CPU microseconds per call) of one ghz run."""
    cpu = cpu_seconds(pid)
    result = run_ghz(ghz, sc, port, duration, pinned)
    cpu = cpu_seconds(pid) - cpu
    return result["qps"], cpu / max(result["calls"], 1.0) * 1e6


Started = Callable[[str], AbstractContextManager[tuple[int, Scenario, int]]]
"""Starts a fresh daemon of a variant: ``with start(variant) as (port, scenario, pid)``."""


def measure_round(
    ghz: str, variants: list[str], start: Started, duration: float, pinned: bool, together: bool
) -> dict[str, tuple[float, float]]:
    """Each variant measured on a fresh daemon: one after another, or all at once.

    ``together`` runs every variant's daemon on core 0 and every ghz on core 1 at the
    same time: the daemons share one core, so their rates compare like their costs per
    call, and a neighbour's burst hits them all in the same seconds.
    """
    if not together:
        out = {}
        for variant in variants:
            with start(variant) as (port, sc, pid):
                out[variant] = measure(ghz, port, sc, pid, duration, pinned)
        return out
    with ExitStack() as stack:
        started = {v: stack.enter_context(start(v)) for v in variants}
        with ThreadPoolExecutor(len(variants)) as pool:
            futures = {
                v: pool.submit(measure, ghz, port, sc, pid, duration, pinned)
                for v, (port, sc, pid) in started.items()
            }
            return {v: f.result() for v, f in futures.items()}


def one_round(
    ghz: str, variants: list[str], tls: TlsFiles, tmp: Path, args: argparse.Namespace, pinned: bool
) -> dict[str, tuple[float, float]]:
    """Each variant on a fresh daemon (``measure_round``; ``--together``: all at once)."""
    start = partial(daemon, tls=tls, tmp=tmp, pinned=pinned)
    return measure_round(ghz, variants, start, args.duration, pinned, args.together)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per ghz run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--together", action="store_true", help="run the variants at the same time (see one_round)"
    )
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated subset, off first"
    )
    args = parser.parse_args()
    ghz = ghz_path()
    pinned = shutil.which("taskset") is not None
    variants = [v for v in args.variants.split(",") if v in VARIANTS]
    if variants[:1] != ["off"] or "token" not in variants:
        parser.error(f"--variants must start with off and include token; known: {VARIANTS}")
    qps: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="memd-auth-bench-") as tmpdir:
        tmp = Path(tmpdir)
        tls = make_tls(tmp / "tls")
        for r in range(args.repeats):
            # ABBA order: a drift over the job (a neighbour starting) hits both ends alike.
            order = variants if r % 2 == 0 else variants[::-1]
            for variant, (rate, us) in one_round(ghz, order, tls, tmp, args, pinned).items():
                qps[variant].append(rate)
                cpu[variant].append(us)
            print(
                f"round {r + 1}: "
                + ", ".join(f"{v} {qps[v][-1]:,.0f}/s {cpu[v][-1]:.0f} us" for v in variants),
                flush=True,
            )
    base_qps, base_cpu = statistics.median(qps["off"]), statistics.median(cpu["off"])
    print(
        f"\nRetrieve, 1 key, ghz -c 16, {'pinned' if pinned else 'unpinned'}, "
        f"{'variants at the same time, ' if args.together else ''}"
        f"median of {args.repeats} x {args.duration:g} s"
    )
    print("| variant | calls/s | ratio to off | daemon CPU per call | capacity ratio (CPU) |")
    print("|---|---:|---:|---:|---:|")
    for variant in variants:
        rate, us = statistics.median(qps[variant]), statistics.median(cpu[variant])
        print(
            f"| {variant} | {rate:,.0f} | {rate / base_qps:.3f} | {us:.0f} us | "
            f"{base_cpu / us:.3f} |"
        )
    token_qps = statistics.median(qps["token"]) / base_qps
    token_cpu = base_cpu / statistics.median(cpu["token"])
    print(
        f"\nauth cost: token / off = {token_qps:.3f} in calls/s, {token_cpu:.3f} in CPU per "
        "call (target >= 0.95)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
