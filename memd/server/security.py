"""Transport security: who may reach the daemon unauthenticated, and TLS.

**Protected mode.** With auth off, anyone who reaches a listening address can read,
change and drop every namespace. That is today's sidecar setup (a loopback address or a
Unix socket in the agent's pod) and stays the default; but a daemon asked to listen on
any other address without auth refuses to start, unless ``--insecure-no-auth`` says the
operator means it (the idea of Redis's protected mode).

**TLS.** The server certificate, key and (for mutual TLS) client CA are PEM files,
re-read when they change: grpcio asks ``_CertificateSource.fetch`` for the current
configuration at every new connection's handshake, and the files are stat'ed at most
once a second. A rotated pair is checked with ``ssl`` before it replaces the old one, so
a half-written file never breaks new connections; connections already open keep their
session.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl

import grpc

from memd.config import Config
from memd.logs import event
from memd.watch import WatchedFile

log = logging.getLogger("memd.server")


class InsecureExposure(Exception):
    """Auth is off and an address other than loopback or a Unix socket is listened on."""


def is_loopback(address: str) -> bool:
    """Whether a ``--listen`` address is reachable only from this machine."""
    if address.startswith("unix:"):
        return True
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name could resolve to anything


def check_exposure(cfg: Config) -> None:
    """Refuse auth off on a non-loopback address unless ``insecure_no_auth``."""
    if cfg.auth != "off" or cfg.insecure_no_auth:
        return
    exposed = [a for a in cfg.listen if not is_loopback(a)]
    if exposed:
        raise InsecureExposure(
            f"refusing to listen on {', '.join(exposed)} with --auth off: anyone who "
            "reaches it could read and drop every namespace. Use --auth required (with "
            "--admin-token-file), listen on loopback or a Unix socket, or pass "
            "--insecure-no-auth if this network is trusted"
        )


class _CertificateSource:
    """The server's current TLS configuration, reloaded when its files change."""

    def __init__(self, cert: str, key: str, client_ca: str) -> None:
        self._files = [WatchedFile(p) for p in (cert, key, client_ca) if p]
        self._cert, self._key, self._client_ca = cert, key, client_ca
        for f in self._files:
            f.changed()  # the first look: the files as loaded now
        self.current = self._load()

    def _load(self) -> grpc.ServerCertificateConfiguration:
        with open(self._cert, "rb") as fh:
            chain = fh.read()
        with open(self._key, "rb") as fh:
            key = fh.read()
        roots = None
        if self._client_ca:
            with open(self._client_ca, "rb") as fh:
                roots = fh.read()
        # grpcio would accept any bytes here and fail every handshake later; ssl checks
        # that the chain parses and matches the key now.
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self._cert, self._key)
        return grpc.ssl_server_certificate_configuration([(key, chain)], roots)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """The new configuration if a file changed and it is valid, else None (keep)."""
        if not any([f.changed() for f in self._files]):
            return None
        try:
            self.current = self._load()
        except (OSError, ssl.SSLError) as exc:
            event(
                log,
                logging.ERROR,
                "tls reload failed; keeping the previous certificate",
                error=str(exc),
            )
            return None
        event(log, logging.INFO, "tls certificate reloaded", cert=self._cert)
        return self.current


def server_credentials(cfg: Config) -> grpc.ServerCredentials | None:
    """TLS credentials for the gRPC ports, or None for plaintext.

    Raises:
        OSError, ssl.SSLError: A configured file is missing or invalid.
        ValueError: TLS is half-configured.
    """
    if not (cfg.tls_cert or cfg.tls_key or cfg.tls_client_ca):
        return None
    if not (cfg.tls_cert and cfg.tls_key):
        raise ValueError("TLS needs both --tls-cert and --tls-key")
    source = _CertificateSource(cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca)
    return grpc.dynamic_ssl_server_credentials(
        source.current, source.fetch, require_client_authentication=bool(cfg.tls_client_ca)
    )
