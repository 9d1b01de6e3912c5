"""The daemon's tracer provider, built from ``[tracing]``, and the handler hook.

One provider per server, never the global one: the daemon has no other instrumentation
to share it with, and two servers in one process (the tests) keep their spans apart.
Sampling is the SDK's: parent-based (a caller's sampling decision is kept), always on
for a call that starts a trace, and ``OTEL_TRACES_SAMPLER`` changes it. Spans leave
through a ``BatchSpanProcessor``, so exporting happens on its thread, never in a call;
``shutdown`` flushes what is left when the server stops.

Imported only when tracing is enabled (``memd.telemetry.server_tracing``).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from memd.telemetry.handlers import traced_handler
from memd.telemetry.options import TracingOptions
from memd.telemetry.spans import operation_of
from memd.version import memd_version

_HTTP_TRACES_PATH = "/v1/traces"


class ServerTracing:
    """The tracing of one server: its provider, and the wrapping of its handlers.

    Args:
        options: The ``[tracing]`` options (``enabled`` is assumed).

    Attributes:
        provider: The server's tracer provider; more span processors may be added to it
            before the server starts (the tests add an in-memory exporter).
    """

    def __init__(self, options: TracingOptions) -> None:
        self.options = options
        resource = Resource.create(
            {"service.name": options.service_name, "service.version": memd_version()}
        )
        self.provider = TracerProvider(resource=resource)
        if options.exporter == "otlp":
            self.provider.add_span_processor(BatchSpanProcessor(otlp_exporter(options)))
        elif options.exporter == "console":
            console = ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
            self.provider.add_span_processor(BatchSpanProcessor(console))
        self._tracer = self.provider.get_tracer("memd", memd_version())

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """``handler`` of full method name ``method``, traced when the method is."""
        op = operation_of(method)
        if op is None:
            return handler
        return traced_handler(handler, self._tracer, method, op, self.options.record_content)

    def describe(self) -> str:
        """Where spans go, for the startup log line."""
        o = self.options
        if o.exporter == "none":
            return "on, not exported"
        if o.exporter == "console":
            return "console (stdout)"
        return f"otlp {o.protocol} {o.endpoint or 'default endpoint'}"

    def shutdown(self) -> None:
        """Export the spans still queued and stop the exporter."""
        self.provider.shutdown()


def otlp_exporter(options: TracingOptions) -> SpanExporter:
    """The OTLP span exporter of ``options.protocol``.

    The ``OTEL_EXPORTER_OTLP_*`` environment fills in what the options leave out
    (headers, certificates, timeout), as for any OTLP exporter.
    """
    endpoint = options.endpoint or None
    exporter: SpanExporter
    if options.protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        exporter = HttpExporter(endpoint=endpoint and http_traces_url(endpoint))
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        exporter = GrpcExporter(endpoint=endpoint)
    return exporter


def http_traces_url(endpoint: str) -> str:
    """``endpoint`` with the OTLP/HTTP traces path when it has no path of its own.

    The HTTP exporter posts to the URL it is given as it is; a collector URL given the
    way the gRPC one is (``http://collector:4318``) is completed, as
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` would be.
    """
    url = urlsplit(endpoint)
    if url.path in ("", "/"):
        return urlunsplit(url._replace(path=_HTTP_TRACES_PATH))
    return endpoint
