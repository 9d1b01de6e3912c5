"""Channel credentials from the clients' ``token`` and ``tls`` arguments.

The token travels as gRPC call credentials (``authorization: Bearer <token>`` on every
call, ``grpc.access_token_call_credentials``), so gRPC itself attaches it and refuses
to send it over a channel it does not consider secure. Over TLS the call credentials
are composed with the SSL credentials; without TLS, with *local* credentials, which
gRPC accepts only for loopback TCP and Unix sockets: a token can go in the clear to a
sidecar on the same host, never over a network (use TLS there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import grpc

PemSource = str | os.PathLike[str] | bytes
"""A PEM file: its path (``str`` or ``Path``) or its contents (``bytes``)."""


@dataclass(frozen=True)
class TLSConfig:
    """TLS settings of a client (``tls=True`` is ``TLSConfig()``).

    Attributes:
        ca_cert: The CA certificates the server's certificate must chain to; None: the
            system's trust store.
        client_cert: This client's certificate chain, for a daemon that requires client
            certificates (``--tls-client-ca``); with ``client_key``.
        client_key: The private key of ``client_cert``.
        server_name: Check the server's certificate for this name instead of the
            target's host (e.g. when connecting by IP address or through a tunnel).
    """

    ca_cert: PemSource | None = None
    client_cert: PemSource | None = None
    client_key: PemSource | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together (mutual TLS)")


def is_local(target: str) -> bool:
    """Whether ``target`` is a Unix socket or a loopback address (``localhost``, 127/8, ::1)."""
    if target.startswith("unix"):
        return True
    address = target.removeprefix("dns:///").removeprefix("ipv4:").removeprefix("ipv6:")
    host = address.rpartition(":")[0] if address.count(":") == 1 else address
    host = host.removeprefix("[").partition("]")[0] if host.startswith("[") else host
    return host in ("localhost", "::1") or host.startswith("127.")


def _pem(source: PemSource | None) -> bytes | None:
    if source is None or isinstance(source, bytes):
        return source
    with open(source, "rb") as f:
        return f.read()


def channel_settings(
    target: str,
    token: str | None,
    tls: bool | TLSConfig,
    credentials: grpc.ChannelCredentials | None,
) -> tuple[grpc.ChannelCredentials | None, list[tuple[str, Any]]]:
    """The credentials (None: plaintext, no token) and extra options of a client's channel.

    Raises:
        ValueError: ``tls`` next to ``credentials``; a token that is empty or holds
            whitespace or control characters, or one without TLS to a remote target.
        OSError: A PEM file of ``tls`` cannot be read.
    """
    options: list[tuple[str, Any]] = []
    if tls is True:
        tls = TLSConfig()
    if isinstance(tls, TLSConfig):
        if credentials is not None:
            raise ValueError("give either credentials= or tls=, not both")
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_pem(tls.ca_cert),
            private_key=_pem(tls.client_key),
            certificate_chain=_pem(tls.client_cert),
        )
        if tls.server_name is not None:
            options.append(("grpc.ssl_target_name_override", tls.server_name))
    if token is None:
        return credentials, options
    if not token or not token.isprintable() or any(c.isspace() for c in token):
        raise ValueError("token must be non-empty printable text without spaces")
    if credentials is None:
        if not is_local(target):
            raise ValueError(
                f"a token is sent in the clear only to a loopback address or a Unix socket, "
                f"not {target!r}: connect with tls="
            )
        unix = target.startswith("unix")
        kind = grpc.LocalConnectionType.UDS if unix else grpc.LocalConnectionType.LOCAL_TCP
        credentials = grpc.local_channel_credentials(kind)
    call = grpc.access_token_call_credentials(token)
    return grpc.composite_channel_credentials(credentials, call), options
