"""The ``[tracing]`` options: what they hold and how an endpoint is checked.

Nothing here imports OpenTelemetry: the option table and ``Config`` need these whether
or not the ``otel`` extra is installed (docs/tracing.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from memd.config_parse import ConfigError

EXPORTERS = ("otlp", "console", "none")
"""``otlp`` sends spans to a collector, ``console`` prints them on stdout (one JSON object
a line, to see what would be sent), ``none`` makes spans and sends them nowhere."""

PROTOCOLS = ("grpc", "http")
"""OTLP transports: gRPC, or protobuf over HTTP."""


@dataclass(frozen=True, slots=True)
class TracingOptions:
    """How the daemon traces its RPCs.

    Attributes:
        enabled: Make a server span per RPC. Off: the RPC path has no tracing code.
        exporter: ``otlp``, ``console`` (stdout) or ``none`` (spans are made, so their
            cost can be measured, but exported nowhere).
        endpoint: Collector URL; empty means the OTLP default (the
            ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``
            environment, else localhost on the protocol's port).
        protocol: ``grpc`` or ``http``.
        service_name: ``service.name`` of the spans' resource.
        record_content: Also record memory text and search queries; they may hold
            personal data, so the conventions make them opt-in.
    """

    enabled: bool = False
    exporter: str = "otlp"
    endpoint: str = ""
    protocol: str = "grpc"
    service_name: str = "memd"
    record_content: bool = False


def otlp_endpoint(raw: str) -> str:
    """Check a collector URL: ``http://host:port`` or ``https://...``; "" is the default.

    The scheme decides the transport security (``http``: plaintext), as in the OTLP
    exporters. A path is kept: with the ``http`` protocol it is where spans are posted.
    """
    raw = raw.strip()
    if not raw:
        return ""
    try:
        url = urlsplit(raw)
        _ = url.port  # a port that is not a number raises here
    except ValueError as exc:
        raise ConfigError(f"{raw!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"{raw!r}: expected http://host:port or https://host:port")
    if url.query or url.fragment:
        raise ConfigError(f"{raw!r}: a collector URL takes no query or fragment")
    return raw


def service_name(raw: str) -> str:
    """A non-empty ``service.name``."""
    if not raw.strip():
        raise ConfigError("service name must not be empty")
    return raw.strip()
