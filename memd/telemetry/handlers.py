"""A server span around each call of a method handler, continuing the caller's trace.

The interceptor (``memd.server.interceptors``) builds one handler per method and, when
tracing is on, passes it through ``traced_handler`` once; with tracing off no code of
this module runs on any call.

The wrapper is the outermost layer: the span covers decoding, access control and the
handler, and its status is what the client receives. Requests reach it as bytes (the
interceptor decodes them itself), so a request the handler refuses is still traced,
with the attributes that could be read. The span is not made current: nothing the
daemon does inside a call reads or propagates it, and a generator that ends on another
thread could not detach it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from memd.telemetry.spans import (
    ERROR_TYPE,
    RPC_STATUS,
    Observed,
    Operation,
    span_name,
    static_attributes,
)

log = logging.getLogger("memd.telemetry")

_W3C = TraceContextTextMapPropagator()
_HEADERS = frozenset(("traceparent", "tracestate"))
_ROOT = Context()  # no caller context: a new trace, never the worker thread's context
_OK, _CANCELLED = grpc.StatusCode.OK, grpc.StatusCode.CANCELLED


class _Method:
    """One traced method: its span's name, fixed attributes and message readers."""

    __slots__ = ("attributes", "content", "name", "op", "tracer")

    def __init__(self, tracer: Tracer, method: str, op: Operation, content: bool) -> None:
        self.tracer = tracer
        self.op = op
        self.name = span_name(method, op)
        self.attributes = static_attributes(method, op)
        self.content = content

    def start(self, context: grpc.ServicerContext) -> Span:
        """A server span, child of the caller's W3C trace context if it sent one."""
        carrier = {k: v for k, v in context.invocation_metadata() if k in _HEADERS}
        parent = _W3C.extract(carrier) if carrier else _ROOT
        return self.tracer.start_span(
            self.name, context=parent, kind=SpanKind.SERVER, attributes=self.attributes
        )

    def request(self, seen: Observed, raw: Any) -> None:
        """Read one request message; one the handler will refuse adds no attribute."""
        if self.op.request is not None:
            try:
                self.op.request(seen, raw)
            except Exception:  # malformed: the handler answers INVALID_ARGUMENT
                pass

    def incoming(self, seen: Observed, request: Any, stream: bool) -> Any:
        """The request as the handler gets it; a stream's messages are read as they pass."""
        if stream:
            return self._requests(seen, request)
        self.request(seen, request)
        return request

    def _requests(self, seen: Observed, raw: Iterator[Any]) -> Iterator[Any]:
        for message in raw:
            self.request(seen, message)
            yield message

    def reply(self, seen: Observed, message: Any) -> None:
        """Read one reply message (tracing never fails a call that succeeded)."""
        if self.op.reply is not None:
            try:
                self.op.reply(seen, message)
            except Exception:
                log.debug("cannot read a reply of %s for its span", self.name, exc_info=True)

    def end(self, span: Span, seen: Observed, code: grpc.StatusCode, details: str) -> None:
        """Set what the call showed and how it ended, and end the span."""
        attributes = seen.attributes(self.op.counts)
        attributes[RPC_STATUS] = code.name
        if code is not _OK:
            attributes[ERROR_TYPE] = code.name
            span.set_status(Status(StatusCode.ERROR, details))
        span.set_attributes(attributes)
        span.end()


def _failed(context: grpc.ServicerContext) -> tuple[grpc.StatusCode, str]:
    # The handler ends every failure with context.abort (the interceptor's one status
    # table), which records the code and details on the context before raising.
    code = context.code() or grpc.StatusCode.UNKNOWN
    details = context.details() or b""
    return code, details.decode("utf-8", "replace") if isinstance(details, bytes) else details


def _unary(traced: _Method, behavior: Any, stream: bool) -> Callable[[Any, Any], Any]:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        span = traced.start(context)
        if not span.is_recording():  # sampled out: nothing to read or set
            return behavior(request, context)
        seen = Observed(traced.content)
        code, details = _OK, ""
        try:
            response = behavior(traced.incoming(seen, request, stream), context)
            traced.reply(seen, response)
            return response
        except Exception:
            code, details = _failed(context)
            raise
        finally:
            traced.end(span, seen, code, details)

    return handle


def _streaming(traced: _Method, behavior: Any, stream: bool) -> Callable[[Any, Any], Iterator[Any]]:
    def handle(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        span = traced.start(context)
        if not span.is_recording():
            yield from behavior(request, context)
            return
        seen = Observed(traced.content)
        code, details = _OK, ""
        responses = behavior(traced.incoming(seen, request, stream), context)
        try:
            for response in responses:
                traced.reply(seen, response)
                yield response
        except GeneratorExit:  # the client went away
            responses.close()  # the interceptor's own accounting first, as without tracing
            code, details = _CANCELLED, "cancelled by the client"
            raise
        except Exception:
            code, details = _failed(context)
            raise
        finally:
            traced.end(span, seen, code, details)

    return handle


def traced_handler(
    handler: grpc.RpcMethodHandler, tracer: Tracer, method: str, op: Operation, content: bool
) -> grpc.RpcMethodHandler:
    """``handler`` with a span per call; its codec is kept as it is."""
    traced = _Method(tracer, method, op, content)
    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _unary(traced, handler.unary_unary, False), **codec
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            _unary(traced, handler.stream_unary, True), **codec
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(traced, handler.unary_stream, False), **codec
        )
    return grpc.stream_stream_rpc_method_handler(
        _streaming(traced, handler.stream_stream, True), **codec
    )
