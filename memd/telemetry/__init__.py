"""OpenTelemetry traces of the daemon's RPCs (docs/tracing.md).

``server_tracing`` is all the server needs: None when tracing is off, so a daemon that
does not trace never imports OpenTelemetry, and the ``otel`` extra stays optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memd.telemetry.options import TracingOptions

if TYPE_CHECKING:
    from memd.telemetry.tracing import ServerTracing

__all__ = ["TracingOptions", "TracingUnavailable", "server_tracing"]


class TracingUnavailable(Exception):
    """Tracing is enabled but the OpenTelemetry SDK is not installed."""


def server_tracing(options: TracingOptions) -> ServerTracing | None:
    """The tracing of a server with ``options``; None when tracing is off.

    Raises:
        TracingUnavailable: ``enabled`` without the ``otel`` extra installed.
    """
    if not options.enabled:
        return None
    try:
        from memd.telemetry.tracing import ServerTracing
    except ImportError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        raise TracingUnavailable(
            f"tracing is enabled but OpenTelemetry is not installed ({exc}); "
            "install memd-daemon[otel] or turn tracing off"
        ) from None
    return ServerTracing(options)
