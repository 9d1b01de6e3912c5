"""Stopping the daemon: drain on SIGTERM, nothing acknowledged lost, even on SIGKILL."""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from witness import run_in_subprocess

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon, StartDaemon

PER_BATCH = 200


def endless_batches(ns: str) -> Iterator[pb.StoreRequest]:
    for b in itertools.count():
        yield pb.StoreRequest(
            namespace=ns,
            batch_id=b,
            memories=[
                mpb.NewMemory(key=f"b{b:06d}:{i:03d}", text=f"batch {b} item {i}", value=b"v" * 64)
                for i in range(PER_BATCH)
            ],
        )


def stream_until_signal(
    d: Daemon, sig: int, after_acks: int
) -> tuple[list[pb.StoreResponse], grpc.RpcError | None]:
    """Stream batches without end; send ``sig`` after ``after_acks`` acks; collect acks."""
    acks: list[pb.StoreResponse] = []
    try:
        for ack in d.stub.StoreStream(endless_batches("stream")):
            acks.append(ack)
            if len(acks) == after_acks:
                d.proc.send_signal(sig)
    except grpc.RpcError as exc:
        return acks, exc
    return acks, None


def assert_all_present(d: Daemon, acks: list[pb.StoreResponse]) -> None:
    assert [a.batch_id for a in acks] == list(range(len(acks)))
    keys = [k for a in acks for k in a.keys]
    assert len(keys) == len(acks) * PER_BATCH
    for i in range(0, len(keys), 1000):
        chunk = keys[i : i + 1000]
        got = d.stub.Retrieve(pb.RetrieveRequest(namespace="stream", keys=chunk, peek=True))
        missing = [r.key for r in got.results if not r.found]
        assert not missing, f"{len(missing)} acknowledged memories lost, e.g. {missing[:3]}"


def test_sigterm_during_a_streaming_store_keeps_every_acked_batch(
    start_daemon: StartDaemon,
) -> None:
    d = start_daemon("--grace-s", "10")
    acks, error = stream_until_signal(d, signal.SIGTERM, after_acks=15)
    # The stream ends at a batch boundary with UNAVAILABLE: resend what was not acked.
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE, error
    assert len(acks) >= 15
    assert d.stop() == 0
    assert "stopped" in [e["event"] for e in d.events]
    assert_all_present(start_daemon(), acks)


def test_sigkill_during_a_streaming_store_loses_nothing_acked(start_daemon: StartDaemon) -> None:
    d = start_daemon()
    acks, error = stream_until_signal(d, signal.SIGKILL, after_acks=15)
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE
    assert d.stop() == -signal.SIGKILL
    # Independent proof first: plain py-lmdb, in another process, sees every acked item.
    on_disk = run_in_subprocess(d.data_dir, values="none")["memories"].get("stream", {})
    acked = {k: f"batch {a.batch_id} item {i}" for a in acks for i, k in enumerate(a.keys)}
    assert {k: on_disk[k]["text"] for k in acked if k in on_disk} == acked
    assert_all_present(start_daemon(), acks)


def test_health_turns_not_serving_before_the_server_stops(start_daemon: StartDaemon) -> None:
    d = start_daemon("--grace-s", "2")
    health = health_pb2_grpc.HealthStub(d.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service="memd.v1.MemoryService"))
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    d.proc.send_signal(signal.SIGTERM)
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    watch.cancel()
    assert d.proc.wait(60) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_restart_keeps_the_data(start_daemon: StartDaemon, sig: int) -> None:
    d = start_daemon()
    item = mpb.NewMemory(
        key="durable",
        text="survives",
        value=b"\x01\x02",
        tags=["t"],
        metadata={"type": "fact"},
        importance=0.25,
        priority=2,
    )
    d.stub.Store(pb.StoreRequest(namespace="r", memories=[item]))
    before = d.stub.Retrieve(pb.RetrieveRequest(namespace="r", keys=["durable"], peek=True))
    assert d.stop(sig) == 0
    again = start_daemon()
    after = again.stub.Retrieve(pb.RetrieveRequest(namespace="r", keys=["durable"], peek=True))
    assert after.results[0].found
    assert after.results[0].memory == before.results[0].memory
