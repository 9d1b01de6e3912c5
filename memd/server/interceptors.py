"""The server interceptor: metrics, logging and last-resort error handling in one place.

One interceptor rather than three, because grpcio runs ``intercept_service`` for every
call on the server's single dispatch thread, and each layer adds a Python frame per RPC
and per streamed message. The wrapped handler of a method is built once and cached, so
the per-call cost is one dict lookup plus the wrapper itself.

What the wrapper does for every RPC:
- counts it started, and on completion counts it by status code and observes its
  handling time (``grpc_server_*``), plus messages received and sent on streams;
- turns any exception into a status through ``status.to_status`` (the one table). A
  ``MemdError``'s message goes to the client; anything else is logged with its traceback
  under an incident id and the client gets only that id, never the traceback;
- logs one line per RPC at debug level, and one per server-side failure at error level.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from time import perf_counter
from typing import Any

import grpc

from memd.logs import event
from memd.metrics import MethodMetrics, Metrics
from memd.server.status import DrainState, to_status

log = logging.getLogger("memd.rpc")

_OK = grpc.StatusCode.OK
_CANCELLED = grpc.StatusCode.CANCELLED
_INTERNAL = grpc.StatusCode.INTERNAL


class ObservabilityInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Wraps every handler with metrics, logging and error mapping.

    Args:
        metrics: Where RPC metrics go.
        drain: Shutdown flag (a closed engine means UNAVAILABLE while draining).
    """

    def __init__(self, metrics: Metrics, drain: DrainState) -> None:
        self._metrics = metrics
        self._drain = drain
        self._cache: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """Return the cached wrapped handler of the called method."""
        method: str = handler_call_details.method
        wrapped = self._cache.get(method)
        if wrapped is None:
            handler = continuation(handler_call_details)
            if handler is None:  # unknown method: grpc answers UNIMPLEMENTED; not cached
                return None
            wrapped = self._cache[method] = self._wrap(method, handler)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        service, _, name = method.lstrip("/").rpartition("/")
        client, server = handler.request_streaming, handler.response_streaming
        kind = {
            (False, False): "unary",
            (True, False): "client_stream",
            (False, True): "server_stream",
            (True, True): "bidi_stream",
        }[(client, server)]
        behavior = handler.unary_stream or handler.stream_stream
        if getattr(behavior, "experimental_non_blocking", False):
            # Health Watch answers through a callback, not a generator; wrapping it would
            # pin a worker thread per watcher. It is left as is (and unmetered).
            return handler
        mm = self._metrics.method(kind, service, name)
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if kind == "unary":
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, mm, handler.unary_unary), **codec
            )
        if kind == "client_stream":
            return grpc.stream_unary_rpc_method_handler(
                self._unary(method, mm, handler.stream_unary, counted=True), **codec
            )
        if kind == "server_stream":
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(method, mm, handler.unary_stream), **codec
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(method, mm, handler.stream_stream, counted=True), **codec
        )

    def _unary(
        self, method: str, mm: MethodMetrics, behavior: Any, counted: bool = False
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            mm.started.inc()
            start = perf_counter()
            code = _OK
            try:
                return behavior(_count(request, mm) if counted else request, context)
            except Exception as exc:
                code, message = self._failure(method, exc)
                context.abort(code, message)
            finally:
                self._done(method, mm, code, perf_counter() - start)

        return handle

    def _streaming(
        self, method: str, mm: MethodMetrics, behavior: Any, counted: bool = False
    ) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        def handle(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            mm.started.inc()
            start = perf_counter()
            code = _OK
            sent = mm.sent
            try:
                for response in behavior(_count(request, mm) if counted else request, context):
                    sent.inc()
                    yield response
            except GeneratorExit:  # the client went away; grpc closes our generator
                code = _CANCELLED
                raise
            except Exception as exc:
                code, message = self._failure(method, exc)
                context.abort(code, message)
            finally:
                self._done(method, mm, code, perf_counter() - start)

        return handle

    def _failure(self, method: str, exc: Exception) -> tuple[grpc.StatusCode, str]:
        if isinstance(exc, grpc.RpcError):
            # Raised by grpcio's request iterator when the call was cancelled.
            return _CANCELLED, "cancelled"
        code, message = to_status(exc, self._drain.draining)
        if message is None:
            incident = uuid.uuid4().hex[:12]
            log.error(
                "rpc failed",
                exc_info=exc,
                extra={"fields": {"method": method, "incident": incident}},
            )
            return code, f"internal error (incident {incident}); see the server log"
        if code is _INTERNAL:
            event(log, logging.ERROR, "rpc failed", method=method, error=message)
        return code, message

    @staticmethod
    def _done(method: str, mm: MethodMetrics, code: grpc.StatusCode, seconds: float) -> None:
        mm.done(code, seconds)
        if log.isEnabledFor(logging.DEBUG):
            event(log, logging.DEBUG, "rpc", method=method, code=code.name, ms=seconds * 1e3)


def _count(requests: Iterator[Any], mm: MethodMetrics) -> Iterator[Any]:
    """Pass a request stream through, counting messages received."""
    received = mm.received
    for request in requests:
        received.inc()
        yield request
