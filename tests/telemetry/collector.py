"""A minimal OTLP trace receiver (gRPC or HTTP) that keeps what it is sent.

It stands in for an OpenTelemetry Collector: ``memd serve`` exports to it over the
real OTLP exporters, and the tests read the decoded ``ExportTraceServiceRequest``s.
"""

from __future__ import annotations

import gzip
import threading
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as tpb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as tpb_grpc


@dataclass
class Received:
    """One span as the collector got it, with its resource's attributes."""

    resource: dict[str, Any]
    span: Any  # opentelemetry.proto.trace.v1.Span

    @property
    def attributes(self) -> dict[str, Any]:
        """The span's attributes as plain values."""
        return {a.key: _value(a.value) for a in self.span.attributes}


def _value(v: Any) -> Any:
    return getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None


class Collector:
    """``with Collector("grpc" | "http") as c:`` serves on a loopback port at ``c.url``."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self._requests: list[tpb.ExportTraceServiceRequest] = []
        self._lock = threading.Lock()
        self._grpc: grpc.Server | None = None
        self._http: ThreadingHTTPServer | None = None

    def _keep(self, request: tpb.ExportTraceServiceRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def __enter__(self) -> Collector:
        if self.protocol == "grpc":
            self._grpc = grpc.server(futures.ThreadPoolExecutor(2))
            tpb_grpc.add_TraceServiceServicer_to_server(_TraceService(self._keep), self._grpc)
            port = self._grpc.add_insecure_port("127.0.0.1:0")
            self._grpc.start()
            self.url = f"http://127.0.0.1:{port}"
        else:
            keep = self._keep

            class Handler(BaseHTTPRequestHandler):
                def do_POST(self) -> None:
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    if self.path != "/v1/traces":
                        self.send_error(404)
                        return
                    keep(tpb.ExportTraceServiceRequest.FromString(body))
                    reply = tpb.ExportTraceServiceResponse().SerializeToString()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)

                def log_message(self, *args: Any) -> None:
                    pass

            self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=self._http.serve_forever, daemon=True).start()
            # No path: the daemon adds /v1/traces (tracing.protocol = "http").
            self.url = f"http://127.0.0.1:{self._http.server_port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._grpc is not None:
            self._grpc.stop(None)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def spans(self) -> list[Received]:
        """Every span received so far."""
        out = []
        with self._lock:
            requests = list(self._requests)
        for request in requests:
            for rs in request.resource_spans:
                resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    out += [Received(resource, span) for span in ss.spans]
        return out


class _TraceService(tpb_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, keep: Any) -> None:
        self._keep = keep

    def Export(self, request: tpb.ExportTraceServiceRequest, context: Any) -> Any:
        self._keep(request)
        return tpb.ExportTraceServiceResponse()
