"""Fixtures: a real memd server with tracing on, its spans, and an agent's own tracer.

The daemon is the real server object (``memd.server.app.create_server``) serving on a
loopback port in this process, with ``tracing.exporter = "none"`` and an in-memory
exporter added to its tracer provider: every span it makes is kept for the test. The
agent side is the Python client under a span of a separate tracer provider, as an
application instrumented with OpenTelemetry would call it. Tests of the OTLP export
itself run a ``memd serve`` process instead (test_export.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from memd.config import Config
from memd.embed.options import EmbedOptions
from memd.server.app import MemdServer, create_server
from memd.telemetry import TracingOptions


@dataclass
class TracedDaemon:
    """A serving daemon whose spans land in ``exporter``."""

    server: MemdServer
    target: str
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        """Every span the daemon finished so far, in order."""
        return list(self.exporter.get_finished_spans())

    def span(self, method: str) -> ReadableSpan:
        """The one span of RPC ``method`` (e.g. ``"Store"``)."""
        found = [s for s in self.spans() if _method(s).endswith("/" + method)]
        assert len(found) == 1, [(s.name, _method(s)) for s in self.spans()]
        return found[0]


def _method(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("rpc.method", ""))


StartTraced = Callable[..., TracedDaemon]


@pytest.fixture
def start_traced(tmp_path: Path) -> Iterator[StartTraced]:
    """``start_traced(**tracing_options, **config)``: a daemon with tracing on."""
    started: list[MemdServer] = []

    def start(record_content: bool = False, **config: Any) -> TracedDaemon:
        options = TracingOptions(enabled=True, exporter="none", record_content=record_content)
        # No embedder, as the launcher's daemons (tests/daemon_launcher.py): with the
        # dev extra's model installed, `auto` would embed every stored text.
        config.setdefault("embed", EmbedOptions(backend="none"))
        cfg = Config.defaults(
            listen=("127.0.0.1:0",),
            data_dir=str(tmp_path / f"data{len(started)}"),
            metrics_listen="",
            tracing=options,
            **config,
        )
        server, ports = create_server(cfg)
        started.append(server)
        exporter = InMemorySpanExporter()
        assert server.tracing is not None
        server.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
        server.start()
        return TracedDaemon(server, f"127.0.0.1:{ports[0]}", exporter)

    yield start
    for server in started:
        server.stop(grace=1)


@dataclass
class Agent:
    """The calling application's tracing: its tracer and the spans it finished."""

    tracer: Tracer
    exporter: InMemorySpanExporter


@pytest.fixture
def agent() -> Agent:
    """A tracer of the agent's own provider (not the global one)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Agent(provider.get_tracer("agent"), exporter)
