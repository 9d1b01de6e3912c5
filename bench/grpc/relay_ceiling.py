"""The ceiling of a one-hop relay in grpcio's sync server (cluster mode's forwarded reads).

A forwarded read costs the client's call to a non-owner, that node's server call and
its own client call to the owner, and the owner's server call. With handlers that do no
work at all this bench measures what the hop itself costs, with the same grpcio pieces
as ``memd/cluster/forward.py`` (sync server on a thread pool, a blocking raw-bytes call
through a registered multi-callable reused across calls):
- direct: a Python client calling a server whose handler returns a constant;
- relay: the same client calling a server whose handler relays the bytes, as they came,
  to the first server and returns its reply;
- rust relay: the same relay whose client half is memd's Rust relay
  (``memd._core.relay_unary``, what ``memd/cluster/forward.py`` uses for raw bytes)
  instead of grpcio's client;
- empty relay: a server like the relay whose handler returns at once (its own cost).
Each server is a process of its own, as the nodes are. Runs alternate; the ratios are
medians of ``--repeat`` runs of ``--calls`` sequential calls. The relay / direct ratio
is the most a forwarded read can reach against a single node when both spend nothing
in their handlers (issue 16's target for forwarded Retrieve: 0.5).

Usage: ``python bench/grpc/relay_ceiling.py [--repeat 5] [--calls 1000]``; JSON to
``bench/out/relay_ceiling.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import time
from concurrent import futures
from pathlib import Path

import grpc

OUT = Path(__file__).resolve().parents[1] / "out" / "relay_ceiling.json"
METHOD = "/bench.Relay/Get"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int, upstream: str | None, relay: str | None) -> None:
    """One server: constant replies, or (``upstream``) a relay (``grpcio`` or ``rust``),
    or an empty relay."""
    server = grpc.server(futures.ThreadPoolExecutor(8), options=[("grpc.so_reuseport", 0)])
    if upstream is not None and relay == "grpcio":
        call = grpc.insecure_channel(upstream).unary_unary(METHOD, _registered_method=True)

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            return call(request, timeout=5, metadata=[("authorization", "Bearer t")])  # type: ignore[no-any-return]
    elif upstream is not None and relay == "rust":
        from memd._core import relay_unary

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            code, message, body, _ = relay_unary(
                upstream, METHOD, [("authorization", "Bearer t")], request, 5.0, 4 << 20
            )
            if code:
                raise RuntimeError(f"relay failed: {code} {message}")
            return body
    else:

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            return b"reply" * 10

    handler = grpc.unary_unary_rpc_method_handler(handle)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Relay", {"Get": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def rate(stub: grpc.UnaryUnaryMultiCallable, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        stub(b"request", timeout=5)
    return calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    ports = {name: free_port() for name in ("direct", "relay", "rust relay", "empty relay")}
    upstream = f"127.0.0.1:{ports['direct']}"
    procs = [
        mp.Process(target=serve, args=(ports["direct"], None, None), daemon=True),
        mp.Process(target=serve, args=(ports["relay"], upstream, "grpcio"), daemon=True),
        mp.Process(target=serve, args=(ports["rust relay"], upstream, "rust"), daemon=True),
        mp.Process(target=serve, args=(ports["empty relay"], upstream, None), daemon=True),
    ]
    for proc in procs:
        proc.start()
    load_before = os.getloadavg()[0]
    try:
        stubs = {}
        for name, port in ports.items():
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            grpc.channel_ready_future(channel).result(timeout=30)
            stubs[name] = channel.unary_unary(METHOD, _registered_method=True)
            rate(stubs[name], 200)  # warm up (the relay's own channel too)
        runs: dict[str, list[float]] = {name: [] for name in stubs}
        for _ in range(args.repeat):
            for name, stub in stubs.items():
                runs[name].append(rate(stub, args.calls))
    finally:
        for proc in procs:
            proc.terminate()
    medians = {name: statistics.median(values) for name, values in runs.items()}
    ratios = {
        name: statistics.median(r / d for r, d in zip(values, runs["direct"], strict=True))
        for name, values in runs.items()
    }
    load_after = os.getloadavg()[0]
    print(
        f"relay ceiling: medians of {args.repeat} runs of {args.calls} calls; "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
    )
    for name in runs:
        print(f"  {name:<12} {medians[name]:>8,.0f} calls/s   / direct {ratios[name]:.2f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "args": vars(args),
                "load_average": [load_before, load_after],
                "runs": runs,
                "median_per_s": medians,
                "ratio_to_direct": ratios,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
