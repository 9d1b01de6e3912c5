"""The caller's trace context on every call, when OpenTelemetry is installed.

A call made while a span is current carries that span's W3C trace context
(``traceparent``, and ``tracestate`` when there is one) as gRPC metadata, so the
daemon's span of the call joins the caller's trace (docs/tracing.md). It is written by
the application's global propagator (``OTEL_PROPAGATORS``; W3C trace context and
baggage by default). Without ``opentelemetry-api`` installed, or with no current span,
calls carry nothing: the dependency stays optional (``memd-client[otel]``).
"""

from __future__ import annotations

from collections.abc import Callable

Metadata = tuple[tuple[str, str], ...]

_inject: Callable[[dict[str, str]], None] | None
try:
    from opentelemetry.propagate import inject as _inject
except ImportError:  # OpenTelemetry is optional
    _inject = None


def trace_metadata() -> Metadata | None:
    """The current trace context as call metadata; None when there is none to send."""
    if _inject is None:
        return None
    carrier: dict[str, str] = {}
    _inject(carrier)
    return tuple(carrier.items()) or None
