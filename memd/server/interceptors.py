"""The server interceptor: metrics, logging and last-resort error handling in one place.

One interceptor rather than three, because grpcio runs ``intercept_service`` for every
call on the server's single dispatch thread, and each layer adds a Python frame per RPC
and per streamed message. The wrapped handler of a method is built once and cached, so
the per-call cost is one dict lookup plus the wrapper itself.

What the wrapper does for every RPC:
- counts it started, and on completion counts it by status code and observes its
  handling time (``grpc_server_*``), plus messages received and sent on streams;
- decodes the request itself (grpcio would answer a malformed message INTERNAL
  "Exception deserializing request"; here it is INVALID_ARGUMENT, like the methods whose
  bytes the Rust codec decodes);
- with auth on, authenticates and authorizes the call (``memd.auth.policy.Guard``, the
  one place access is decided), every message of a request stream included, and cuts
  answers over all namespaces down to what the token may see;
- turns any exception into a status through ``status.to_status`` (the one table). A
  ``MemdError``'s message goes to the client; anything else is logged with its traceback
  under an incident id and the client gets only that id, never the traceback;
- logs one line per RPC at debug level, and one per server-side failure at error level.

With tracing on, each method's wrapped handler is passed once through
``ServerTracing.wrap``, which puts a span around it (``memd.telemetry``); with tracing
off that is one test per method when its handler is built, and nothing per call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from time import perf_counter
from typing import TYPE_CHECKING, Any

import grpc

from memd.auth.policy import Guard, Rule, Scope, rule_of
from memd.auth.tokens import Token
from memd.errors import InvalidArgument
from memd.logs import event
from memd.metrics import MethodMetrics, Metrics
from memd.server.status import DrainState, to_status

if TYPE_CHECKING:
    from memd.telemetry.tracing import ServerTracing

log = logging.getLogger("memd.rpc")

_OK = grpc.StatusCode.OK
_CANCELLED = grpc.StatusCode.CANCELLED
_INTERNAL = grpc.StatusCode.INTERNAL


class ObservabilityInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Wraps every handler with metrics, logging and error mapping.

    Args:
        metrics: Where RPC metrics go.
        drain: Shutdown flag (a closed engine means UNAVAILABLE while draining).
        guard: Access control; None when auth is off.
        tracing: Spans of the RPCs; None when tracing is off.
    """

    def __init__(
        self,
        metrics: Metrics,
        drain: DrainState,
        guard: Guard | None = None,
        tracing: ServerTracing | None = None,
    ) -> None:
        self._metrics = metrics
        self._drain = drain
        self._guard = guard
        self._tracing = tracing
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
            wrapped = self._wrap(method, handler)
            if self._tracing is not None:
                wrapped = self._tracing.wrap(method, wrapped)
            self._cache[method] = wrapped
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
        call = _Call(method, handler.request_deserializer, self._guard)
        # Requests reach the wrapper as bytes; `call.decode` parses them (see above).
        codec = {"request_deserializer": None, "response_serializer": handler.response_serializer}
        if kind == "unary":
            return grpc.unary_unary_rpc_method_handler(
                self._unary(call, mm, handler.unary_unary), **codec
            )
        if kind == "client_stream":
            return grpc.stream_unary_rpc_method_handler(
                self._unary(call, mm, handler.stream_unary, stream=True), **codec
            )
        if kind == "server_stream":
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(call, mm, handler.unary_stream), **codec
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(call, mm, handler.stream_stream, stream=True), **codec
        )

    def _unary(
        self, call: _Call, mm: MethodMetrics, behavior: Any, stream: bool = False
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        method = call.method

        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            mm.started.inc()
            start = perf_counter()
            code = _OK
            try:
                if stream:
                    token = call.authenticate(context)
                    request = call.requests(request, mm, token)
                else:
                    request, token = call.admit(request, context)
                response = behavior(request, context)
                return call.redact(token, response)
            except Exception as exc:
                code, message = self._failure(method, exc)
                context.abort(code, message)
            finally:
                self._done(method, mm, code, perf_counter() - start)

        return handle

    def _streaming(
        self, call: _Call, mm: MethodMetrics, behavior: Any, stream: bool = False
    ) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        method = call.method

        def handle(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            mm.started.inc()
            start = perf_counter()
            code = _OK
            sent = mm.sent
            try:
                if stream:
                    token = call.authenticate(context)
                    request = call.requests(request, mm, token)
                else:
                    request, token = call.admit(request, context)
                for response in behavior(request, context):
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


class _Call:
    """What one method's wrapper does to a request: decode it, check it, redact the answer.

    Built once per method, so the per-call work is only what that method needs.
    """

    __slots__ = ("_decode", "_guard", "_redact", "_rule", "method")

    def __init__(self, method: str, decode: Callable[[bytes], Any] | None, guard: Guard | None):
        self.method = method
        self._decode = decode
        rule: Rule | None = rule_of(method) if guard is not None else None
        if rule is not None and rule.scope is Scope.PUBLIC:
            rule = None
        self._rule = rule
        self._guard = guard if rule is not None else None
        self._redact = rule is not None and rule.scope is Scope.VISIBLE

    def authenticate(self, context: grpc.ServicerContext) -> Token | None:
        """The caller's token; None when the method is public or auth is off."""
        if self._guard is None:
            return None
        return self._guard.authenticate(self.method, context)

    def admit(self, raw: Any, context: grpc.ServicerContext) -> tuple[Any, Token | None]:
        """Decode a unary request, authenticate and authorize it: (request, token)."""
        request = self.decode(raw)
        if self._guard is None or self._rule is None:
            return request, None
        return request, self._guard.admit(self.method, self._rule, context, request)

    def decode(self, raw: Any) -> Any:
        """One request message, parsed (raw methods get their bytes as they are)."""
        if self._decode is None:
            return raw
        try:
            return self._decode(raw)
        except Exception as exc:  # protobuf raises DecodeError, or worse on junk
            raise InvalidArgument(f"malformed request message: {exc}") from None

    def request(self, raw: Any, token: Token | None) -> Any:
        """Decode one message of a request stream and authorize it."""
        request = self.decode(raw)
        if self._guard is not None and token is not None and self._rule is not None:
            self._guard.authorize(self.method, self._rule, token, request)
        return request

    def requests(self, raw: Iterator[Any], mm: MethodMetrics, token: Token | None) -> Iterator[Any]:
        """A request stream, counted, each message decoded and authorized as it comes."""
        received = mm.received
        for message in raw:
            received.inc()
            yield self.request(message, token)

    def redact(self, token: Token | None, response: Any) -> Any:
        """Calls over all namespaces answer only what the token may see."""
        if self._redact and token is not None and self._guard is not None:
            return self._guard.redact(self.method, token, response)
        return response
