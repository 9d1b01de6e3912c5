"""Throwaway TLS material for test daemons: a CA, a server and a client certificate.

``make_tls(directory)`` writes, with the ``cryptography`` package (a dev dependency):

=================  ===============================================================
``ca.pem``         a self-signed CA (the server's ``--tls-client-ca`` and the
                   clients' trust root)
``server.pem/.key`` the daemon's certificate, SANs ``localhost``, ``127.0.0.1``, ``::1``
                   (a Unix-socket target's default authority is ``localhost``)
``client.pem/.key`` a client certificate for mutual TLS (CN ``memd-test-client``)
=================  ===============================================================

Keys are ECDSA P-256 (fast to make, accepted by BoringSSL, OpenSSL and Go), files
0600. The certificates are valid from an hour ago (clock skew) for a day: long enough
for any test run, short enough that a leaked one is useless.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_DNS = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files ``make_tls`` wrote."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def serve_flags(self) -> list[str]:
        """The ``memd serve`` flags for server TLS with client certificates required."""
        return [
            "--tls-cert",
            str(self.server_cert),
            "--tls-key",
            str(self.server_key),
            "--tls-client-ca",
            str(self.ca_cert),
        ]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, data: bytes, private: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier | None,
    sans: list[x509.GeneralName],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    is_ca = issuer is None
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_tls(directory: Path) -> TlsFiles:
    """Write a fresh CA, server certificate and client certificate into ``directory``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = TlsFiles(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("memd test CA", ca_key, None, ca_key, None, [])
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in SERVER_DNS]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    leaves = [
        (files.server_cert, files.server_key, "localhost", server, sans),
        (files.client_cert, files.client_key, "memd-test-client", client, []),
    ]
    for cert_path, key_path, cn, usage, names in leaves:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(cn, key, ca, ca_key, usage, names)
        _write(key_path, _key_pem(key), private=True)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    _write(files.ca_cert, ca.public_bytes(serialization.Encoding.PEM), private=False)
    return files
