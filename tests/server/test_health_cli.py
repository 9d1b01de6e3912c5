"""``memd health`` against real daemons: exit 0 only when the daemon says SERVING."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .daemon import REPO, Daemon, clean_env
from .state import QUIET


def _health(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memd", "health", *args],
        cwd=REPO,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    [line] = (done.stdout + done.stderr).splitlines()
    return line


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A TCP address that accepts connections (the kernel does) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_serving_daemon_is_healthy_over_tcp_and_unix(tmp_path: Path) -> None:
    sock = tmp_path / "m.sock"
    d = Daemon(tmp_path / "data", *QUIET, "--listen", "127.0.0.1:0", "--listen", f"unix://{sock}")
    try:
        done = _health("--target", d.tcp)
        assert done.returncode == 0, done
        assert _one_line(done) == f"{d.tcp} (server): SERVING"
        service = _health("--target", d.unix, "--service", "memd.v1.MemoryService")
        assert service.returncode == 0, service
        assert _one_line(service).endswith("memd.v1.MemoryService: SERVING")
        # The default target comes from MEMD_TARGET.
        assert _health(env={"MEMD_TARGET": d.tcp}).returncode == 0
        unknown = _health("--target", d.tcp, "--service", "no.such.Service")
        assert unknown.returncode == 1 and "NOT_FOUND" in _one_line(unknown)
    finally:
        d.close()
    # The same address once the daemon is gone.
    gone = _health("--target", d.tcp)
    assert gone.returncode == 1 and "UNAVAILABLE" in _one_line(gone)


def test_dead_addresses_are_unhealthy(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    tcp = _health("--target", f"127.0.0.1:{port}", "--timeout", "10")
    assert tcp.returncode == 1 and "UNAVAILABLE" in _one_line(tcp)
    unix = _health("--target", f"unix://{tmp_path / 'none.sock'}")
    assert unix.returncode == 1 and "UNAVAILABLE" in _one_line(unix)


def test_a_daemon_that_never_answers_times_out(silent_listener: str) -> None:
    start = time.monotonic()
    done = _health("--target", silent_listener, "--timeout", "1")
    took = time.monotonic() - start
    assert done.returncode == 1 and "DEADLINE_EXCEEDED" in _one_line(done)
    assert 1 <= took < 20, took  # the timeout, plus the interpreter's start-up


def test_mutual_tls(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "data", *QUIET, "--listen", "127.0.0.1:0", tls=True, auth=True)
    try:
        assert d.tls_files is not None
        f = d.tls_files
        tls = ["--ca", str(f.ca_cert), "--cert", str(f.client_cert), "--key", str(f.client_key)]
        # Health needs no token even though every other call does.
        done = _health("--target", d.tcp, *tls)
        assert done.returncode == 0, done
        assert _one_line(done).endswith("SERVING")
        plaintext = _health("--target", d.tcp, "--timeout", "5")
        assert plaintext.returncode == 1
        no_cert = _health("--target", d.tcp, "--ca", str(f.ca_cert), "--timeout", "5")
        assert no_cert.returncode == 1
        missing = _health("--target", d.tcp, "--ca", str(tmp_path / "nope.pem"))
        assert missing.returncode == 2 and "nope.pem" in missing.stderr
    finally:
        d.close()
