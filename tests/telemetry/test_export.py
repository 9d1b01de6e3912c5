"""``memd serve`` with tracing configured: OTLP export to a collector, and bad settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from daemon_launcher import REPO, Daemon, clean_env
from memd_client import Client
from opentelemetry.proto.trace.v1 import trace_pb2

from .collector import Collector
from .conftest import Agent


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_memd_serve_exports_its_spans_over_otlp(protocol: str, tmp_path: Path, agent: Agent):
    with Collector(protocol) as collector:
        flags = ["--tracing-enabled", "--tracing-protocol", protocol]
        flags += ["--tracing-endpoint", collector.url, "--tracing-service-name", "memd-test"]
        daemon = Daemon(tmp_path / "data", *flags)
        try:
            assert daemon.wait_event("listening")["tracing"] == f"otlp {protocol} {collector.url}"
            with Client(daemon.address) as client, agent.tracer.start_as_current_span("turn"):
                client.store("agent:7", [{"text": "remember this"}])
        finally:
            # SIGTERM: the daemon drains and flushes its queued spans before it exits.
            assert daemon.close() == 0, daemon.log()
        received = collector.spans()
    (turn,) = agent.exporter.get_finished_spans()
    (store,) = [r for r in received if r.span.name == "upsert_memory"]
    assert store.resource["service.name"] == "memd-test"
    assert store.span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert int.from_bytes(store.span.trace_id, "big") == turn.context.trace_id
    assert int.from_bytes(store.span.parent_span_id, "big") == turn.context.span_id
    assert store.attributes["gen_ai.memory.store.id"] == "agent:7"
    assert store.attributes["gen_ai.memory.record.count"] == 1
    # Only memd.v1 calls are traced: the launcher's health checks made no span.
    assert {r.span.name for r in received} == {"upsert_memory"}


def test_an_unreachable_collector_fails_no_call_and_no_stop(tmp_path: Path):
    # Port 9 (discard) refuses connections; the exporter gives up after its timeout.
    flags = ["--tracing-enabled", "--tracing-endpoint", "http://127.0.0.1:9"]
    daemon = Daemon(tmp_path / "data", *flags, env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1"})
    try:
        with Client(daemon.address) as client:
            key = client.store("ns", [{"text": "kept"}]).keys[0]
            assert client.get("ns", [key])[key] is not None
    finally:
        assert daemon.close() == 0, daemon.log()
    assert "stopped" in [e.get("event") for e in daemon.events]


def test_tracing_is_off_by_default(tmp_path: Path):
    daemon = Daemon(tmp_path / "data")
    try:
        assert daemon.wait_event("listening")["tracing"] == "off"
    finally:
        daemon.close()


def _serve_until_exit(
    tmp_path: Path, *flags: str, block_otel: bool = False
) -> subprocess.CompletedProcess[str]:
    # `memd serve` that is expected to exit at once (a daemon that starts times out).
    prelude = "import sys; sys.modules['opentelemetry'] = None; " if block_otel else ""
    code = f"{prelude}from memd.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0", *flags]
    return subprocess.run(
        [sys.executable, "-c", f"import sys; {code}", "serve", *args],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tracing-endpoint", "ftp://collector:21"], "expected http://host:port"),
        (["--tracing-endpoint", "http://collector:port"], "is not a URL"),
        (["--tracing-protocol", "udp"], "tracing-protocol"),
        (["--tracing-exporter", "zipkin"], "tracing-exporter"),
        (["--tracing-service-name", " "], "service name must not be empty"),
    ],
)
def test_a_bad_tracing_setting_is_a_usage_error(tmp_path: Path, flags: list[str], message: str):
    done = _serve_until_exit(tmp_path, *flags, "--metrics-listen", "off")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert not (tmp_path / "data").exists()


def test_tracing_without_opentelemetry_refuses_to_start(tmp_path: Path):
    done = _serve_until_exit(
        tmp_path, "--tracing-enabled", "--metrics-listen", "off", block_otel=True
    )
    assert done.returncode == 1, done.stderr
    assert "install memd-daemon[otel] or turn tracing off" in done.stderr
