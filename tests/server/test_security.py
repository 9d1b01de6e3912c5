"""Operating access control: protected mode, the admin token file, stored digests, TLS.

Each test runs a real daemon; the per-method access table is in test_isolation.py.
"""

from __future__ import annotations

import hashlib
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from daemon_tls import make_tls
from grpc_health.v1 import health_pb2, health_pb2_grpc

from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc
from memd.engine import Engine

from .daemon import REPO, Daemon, clean_env
from .state import QUIET

_UNAUTH = grpc.StatusCode.UNAUTHENTICATED


def _serve(*flags: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``memd serve`` expecting it to stop by itself (it refuses to start)."""
    return subprocess.run(
        [sys.executable, "-m", "memd", "serve", "--metrics-listen", "off", *flags],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _code(fn: object) -> grpc.StatusCode:
    try:
        fn()  # type: ignore[operator]
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_auth_off_refuses_a_non_loopback_address(tmp_path: Path) -> None:
    done = _serve("--data-dir", str(tmp_path / "d"), "--listen", "0.0.0.0:0")
    assert done.returncode == 1
    assert "refusing to listen on 0.0.0.0:0 with --auth off" in done.stderr
    assert "--insecure-no-auth" in done.stderr


def test_insecure_no_auth_or_auth_required_may_listen_anywhere(tmp_path: Path) -> None:
    for flags in (["--insecure-no-auth"], ["--auth", "required"]):
        d = Daemon(tmp_path / "data", "--listen", "0.0.0.0:0", *flags)
        try:
            loopback = grpc.insecure_channel(f"127.0.0.1:{d.tcp.rsplit(':', 1)[1]}")
            health = health_pb2_grpc.HealthStub(loopback)  # type: ignore[no-untyped-call]
            assert health.Check(health_pb2.HealthCheckRequest()).status == 1
            loopback.close()
        finally:
            d.close()


def test_health_needs_no_token_and_denials_are_counted(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "data", *QUIET, auth=True)
    try:
        anonymous = grpc.insecure_channel(d.address)
        health = health_pb2_grpc.HealthStub(anonymous)  # type: ignore[no-untyped-call]
        assert health.Check(health_pb2.HealthCheckRequest()).status == 1
        stub = pb_grpc.MemoryServiceStub(anonymous)  # type: ignore[no-untyped-call]
        for _ in range(3):
            assert _code(lambda: stub.ListNamespaces(pb.ListNamespacesRequest())) == _UNAUTH
        samples = d.metrics()["memd_auth_denied"]
        missing = [
            s.value
            for s in samples
            if s.labels.get("reason") == "missing" and s.name.endswith("_total")
        ]
        assert missing == [3.0]
        assert d.admin_token not in d.log()
    finally:
        d.close()


def test_admin_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "data", *QUIET, auth=True)
    try:
        assert d.secrets_dir is not None
        old = d.admin_token
        stub = pb_grpc.MemoryServiceStub(d.connect(None))  # type: ignore[no-untyped-call]

        def listing(token: str) -> grpc.StatusCode:
            md = [("authorization", f"Bearer {token}")]
            return _code(lambda: stub.ListNamespaces(pb.ListNamespacesRequest(), metadata=md))

        assert listing(old) == grpc.StatusCode.OK
        new = "rotated-admin-token-" + "x" * 24
        staged = d.secrets_dir / "admin.token.new"
        staged.write_text(new + "\n")
        staged.replace(d.secrets_dir / "admin.token")  # atomic, as rotation tools do
        deadline = time.monotonic() + 10
        while listing(new) != grpc.StatusCode.OK and time.monotonic() < deadline:
            time.sleep(0.2)
        assert listing(new) == grpc.StatusCode.OK
        assert listing(old) == _UNAUTH
    finally:
        d.close()


def test_only_digests_are_stored_and_tokens_survive_restart(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "data", *QUIET, "--backup-dir", str(tmp_path / "b"), auth=True)
    secret = d.create_token("agent", [("team:a/*", ["read", "write"])])
    d.stub.Backup(pb.BackupRequest(path="copy"))
    d.close()
    store = (tmp_path / "data" / "data.mdb").read_bytes()
    assert secret.encode() not in store
    assert hashlib.sha256(secret.encode()).digest() in store
    with Engine(tmp_path / "b" / "copy") as backup:
        assert hashlib.sha256(secret.encode()).digest() in dict(backup.tokens())
    again = Daemon(tmp_path / "data", *QUIET, auth=True)
    try:
        stub = pb_grpc.MemoryServiceStub(again.connect(secret))  # type: ignore[no-untyped-call]
        assert stub.List(pb.ListRequest(namespace="team:a/x")).memories is not None
        assert (
            _code(lambda: stub.List(pb.ListRequest(namespace="team:b/x")))
            == grpc.StatusCode.PERMISSION_DENIED
        )
    finally:
        again.close()


def test_tls_refuses_plaintext_and_clients_without_a_certificate(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "data", *QUIET, "--listen", "127.0.0.1:0", tls=True, auth=True)
    try:
        assert d.tls_files is not None
        f = d.tls_files
        plain = pb_grpc.MemoryServiceStub(grpc.insecure_channel(d.tcp))  # type: ignore[no-untyped-call]
        assert (
            _code(lambda: plain.ListNamespaces(pb.ListNamespacesRequest(), timeout=5))
            == grpc.StatusCode.UNAVAILABLE
        )
        no_cert = grpc.secure_channel(d.tcp, grpc.ssl_channel_credentials(f.ca_cert.read_bytes()))
        stub = pb_grpc.MemoryServiceStub(no_cert)  # type: ignore[no-untyped-call]
        assert (
            _code(lambda: stub.ListNamespaces(pb.ListNamespacesRequest(), timeout=5))
            == grpc.StatusCode.UNAVAILABLE
        )
        assert d.stub.ListNamespaces(pb.ListNamespacesRequest()) is not None  # cert + token
    finally:
        d.close()


def test_tls_certificate_is_reloaded_when_its_files_change(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "data", *QUIET, "--listen", "127.0.0.1:0", tls=True)
    try:
        assert d.tls_files is not None
        f = d.tls_files
        fresh = make_tls(tmp_path / "fresh")  # a new CA, server and client certificate

        def call(ca: Path) -> grpc.StatusCode:
            creds = grpc.ssl_channel_credentials(
                ca.read_bytes(), f.client_key.read_bytes(), f.client_cert.read_bytes()
            )
            with grpc.secure_channel(d.tcp, creds) as channel:
                stub = pb_grpc.MemoryServiceStub(channel)  # type: ignore[no-untyped-call]
                return _code(lambda: stub.ListNamespaces(pb.ListNamespacesRequest(), timeout=5))

        assert call(f.ca_cert) == grpc.StatusCode.OK
        assert call(fresh.ca_cert) == grpc.StatusCode.UNAVAILABLE
        for new, old in ((fresh.server_key, f.server_key), (fresh.server_cert, f.server_cert)):
            old.write_bytes(new.read_bytes())
        deadline = time.monotonic() + 10
        while call(fresh.ca_cert) != grpc.StatusCode.OK and time.monotonic() < deadline:
            time.sleep(0.3)
        assert call(fresh.ca_cert) == grpc.StatusCode.OK
        assert call(f.ca_cert) == grpc.StatusCode.UNAVAILABLE
    finally:
        d.close()


def test_metrics_over_https(tmp_path: Path) -> None:
    f = make_tls(tmp_path / "tls")
    d = Daemon(
        tmp_path / "data",
        *QUIET,
        "--metrics-tls-cert",
        str(f.server_cert),
        "--metrics-tls-key",
        str(f.server_key),
    )
    try:
        context = ssl.create_default_context(cafile=str(f.ca_cert))
        url = f"https://{d.metrics_address}/metrics"
        with urllib.request.urlopen(url, timeout=10, context=context) as reply:
            assert b"grpc_server_started_total" in reply.read()
        with pytest.raises(Exception):  # noqa: B017  (plain HTTP on a TLS port)
            urllib.request.urlopen(f"http://{d.metrics_address}/metrics", timeout=5).read()
    finally:
        d.close()


def test_token_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "data", *QUIET, "--listen", "127.0.0.1:0", tls=True, auth=True)
    try:
        assert d.tls_files is not None and d.secrets_dir is not None
        f = d.tls_files
        common = [
            "--target",
            d.tcp,
            "--token-file",
            str(d.secrets_dir / "admin.token"),
            "--ca",
            str(f.ca_cert),
            "--cert",
            str(f.client_cert),
            "--key",
            str(f.client_key),
        ]

        def memd(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "memd", "token", *args],
                cwd=REPO,
                env=clean_env(),
                capture_output=True,
                text=True,
                timeout=60,
            )

        made = memd(
            "create",
            *common,
            "--label",
            "planner",
            "--grant",
            "team:a/*=read,write",
            "--expires-in",
            "1d",
        )
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip()
        assert secret.startswith("memd_") and secret not in made.stderr
        listed = memd("list", *common)
        [line] = [ln for ln in listed.stdout.splitlines() if "planner" in ln]
        token_id = line.split()[0]
        assert "team:a/*=read,write" in line and secret not in listed.stdout
        stub = pb_grpc.MemoryServiceStub(d.connect(secret))  # type: ignore[no-untyped-call]
        assert stub.List(pb.ListRequest(namespace="team:a/x")) is not None
        assert memd("revoke", *common, token_id).stdout.strip() == "revoked"
        assert _code(lambda: stub.List(pb.ListRequest(namespace="team:a/x"))) == _UNAUTH
        refused = memd("list", *common[:2], "--token", secret, *common[4:])
        assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr
        bad = memd("create", *common, "--grant", "team:a/*=fly")
        assert bad.returncode == 2 and "unknown action" in bad.stderr
    finally:
        d.close()
