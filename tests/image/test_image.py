"""The container image as shipped: its configuration, its user and volume, its healthcheck.

These run only under ``make image-test`` (``tests/image.sh``), which builds the image and
sets ``MEMD_TEST_IMAGE``; the same run then points the Python client's conformance tests
at the daemon in the image. The daemon runs with ``buildah run --isolation=chroot``
through ``deploy/container/run.sh`` (no OCI runtime works on these machines), on the
host's network, as the image's own user and with the image's own command.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from memd_client import Client, Unauthenticated

REPO = Path(__file__).resolve().parents[2]
RUN = ["bash", str(REPO / "deploy" / "container" / "run.sh")]
IMAGE = os.environ.get("MEMD_TEST_IMAGE", "")
pytestmark = pytest.mark.skipif(not IMAGE, reason="needs MEMD_TEST_IMAGE (make image-test)")


def _cargo_version() -> str:
    with open(REPO / "rust_core" / "Cargo.toml", "rb") as f:
        version: str = tomllib.load(f)["package"]["version"]
    return version


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The image's configuration (``podman image inspect``; docker format)."""
    out = subprocess.run(
        ["podman", "image", "inspect", IMAGE], check=True, capture_output=True, text=True
    ).stdout
    doc: dict[str, Any] = json.loads(out)[0]
    return doc


@pytest.fixture
def container() -> Iterator[str]:
    """A new working container of the image (its own /data volume), removed afterwards."""
    name = f"memd-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["buildah", "from", "--pull-never", "--name", name, IMAGE], check=True, capture_output=True
    )
    yield name
    subprocess.run(["buildah", "rm", name], capture_output=True)


def _options(env: dict[str, str] | None, volumes: dict[Path, str] | None) -> list[str]:
    """buildah run's options for ``env`` and bind mounts ``{host path: container path}``."""
    return [f"--env={k}={v}" for k, v in (env or {}).items()] + [
        f"--volume={host}:{inside}" for host, inside in (volumes or {}).items()
    ]


def run(
    container: str,
    *cmd: str,
    env: dict[str, str] | None = None,
    volumes: dict[Path, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``cmd`` in ``container`` as the image's user, to the end."""
    return subprocess.run(
        [*RUN, *_options(env, volumes), container, "--", *cmd],
        capture_output=True,
        text=True,
        timeout=120,
    )


class Served:
    """``command`` (the image's ENTRYPOINT + CMD) running in ``container``, ``env`` added."""

    def __init__(
        self,
        container: str,
        command: list[str],
        env: dict[str, str],
        volumes: dict[Path, str] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            [*RUN, *_options(env, volumes), container, "--", *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.listening = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self.listening.wait(60):
            self.stop()
            raise AssertionError(f"no 'listening' event: {self.events}")
        ready = next(e for e in self.events if e.get("event") == "listening")
        self.grpc: list[str] = ready["grpc"]
        self.metrics: str = ready["metrics"]

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                continue  # buildah's own lines
            if self.events[-1].get("event") == "listening":
                self.listening.set()

    def stop(self) -> int:
        self.proc.terminate()  # run.sh passes SIGTERM to memd, which drains
        code = self.proc.wait(60)
        self._reader.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return code


def _command(config: dict[str, Any]) -> list[str]:
    cfg = config["Config"]
    return [*(cfg.get("Entrypoint") or []), *(cfg.get("Cmd") or [])]


def _open_env(**extra: str) -> dict[str, str]:
    """The image's own listeners, on ports the kernel picks, with auth off allowed."""
    return {
        "MEMD_INSECURE_NO_AUTH": "true",
        "MEMD_LISTEN": "0.0.0.0:0",
        "MEMD_METRICS_LISTEN": "0.0.0.0:0",
        **extra,
    }


def _local(address: str) -> str:
    return address.replace("0.0.0.0", "127.0.0.1")


def test_configuration(config: dict[str, Any]) -> None:
    cfg = config["Config"]
    version = _cargo_version()
    assert cfg["Labels"]["org.opencontainers.image.version"] == version
    assert cfg["Labels"]["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert cfg["User"] == "10001:10001"
    assert set(cfg["ExposedPorts"]) == {"50051/tcp", "9464/tcp"}
    assert set(cfg["Volumes"]) == {"/data"}
    env = dict(item.split("=", 1) for item in cfg["Env"])
    assert env["MEMD_DATA_DIR"] == "/data"
    assert env["MEMD_LISTEN"] == "0.0.0.0:50051"
    assert env["MEMD_METRICS_LISTEN"] == "0.0.0.0:9464"
    assert _command(config) == ["memd", "serve"]
    assert config["Healthcheck"]["Test"] == ["CMD", "memd", "health", "--timeout", "3"]


def test_runtime_holds_python_and_memd_but_no_toolchain(container: str) -> None:
    done = run(container, "memd", "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"memd {_cargo_version()}", done
    imports = run(container, "python3", "-c", "import memd._core, grpc; print('ok')")
    assert imports.stdout.strip() == "ok", imports
    for tool in ("cargo", "rustc", "gcc", "cc", "maturin", "pip"):
        found = run(container, "sh", "-c", f"command -v {tool}")
        assert found.returncode != 0, f"{tool} is in the runtime image: {found.stdout}"
    assert run(container, "id", "-u").stdout.strip() == "10001"


def test_refuses_open_listener_with_auth_off(container: str, config: dict[str, Any]) -> None:
    """Out of the box the image listens on 0.0.0.0: protected mode wants a choice."""
    done = run(container, *_command(config))
    assert done.returncode == 1, done
    assert "refusing to listen on 0.0.0.0:50051 with --auth off" in done.stderr


def test_serves_as_shipped_and_keeps_data_in_the_volume(
    container: str, config: dict[str, Any]
) -> None:
    served = Served(container, _command(config), _open_env())
    try:
        [address] = served.grpc
        health = config["Healthcheck"]["Test"][1:]
        probe = run(container, *health, env={"MEMD_TARGET": _local(address)})
        assert probe.returncode == 0 and "SERVING" in probe.stdout, probe
        with Client(_local(address), timeout=10) as client:
            client.store("image:test", [{"key": "tea", "text": "the user likes green tea"}])
            assert [h.memory.key for h in client.search("image:test", "green tea")] == ["tea"]
        url = f"http://{_local(served.metrics)}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        assert f'memd_build_info{{version="{_cargo_version()}"}} 1.0' in text
    finally:
        assert served.stop() == 0
    owners = run(container, "stat", "-c", "%u %n", "/data/data.mdb", "/data/memd.lock")
    assert owners.stdout.split()[::2] == ["10001", "10001"], owners
    # A new daemon on the same volume finds the memory.
    again = Served(container, _command(config), _open_env())
    try:
        with Client(_local(again.grpc[0]), timeout=10) as client:
            assert client.get("image:test", ["tea"])["tea"].text == "the user likes green tea"
        probe = run(container, "memd", "health", env={"MEMD_TARGET": _local(again.grpc[0])})
        assert probe.returncode == 0, probe
    finally:
        assert again.stop() == 0


def test_unix_socket_and_tokens(container: str, config: dict[str, Any], tmp_path: Path) -> None:
    """The pod-local setup: a socket in a shared directory, and auth with an admin token."""
    shared = tmp_path / "run"
    shared.mkdir()
    shared.chmod(0o777)  # the image's uid creates the socket
    token = "memd_" + uuid.uuid4().hex + uuid.uuid4().hex
    (shared / "admin.token").write_text(token + "\n")
    (shared / "admin.token").chmod(0o644)
    env = {
        "MEMD_LISTEN": "unix:///run/memd/memd.sock",
        "MEMD_METRICS_LISTEN": "off",
        "MEMD_AUTH": "required",
        "MEMD_ADMIN_TOKEN_FILE": "/run/memd/admin.token",
    }
    volumes = {shared: "/run/memd"}
    served = Served(container, _command(config), env, volumes)
    try:
        assert served.grpc == ["unix:///run/memd/memd.sock"]
        health = config["Healthcheck"]["Test"][1:]
        target = {"MEMD_TARGET": "unix:///run/memd/memd.sock"}
        probe = run(container, *health, env=target, volumes=volumes)
        assert probe.returncode == 0 and "SERVING" in probe.stdout, probe
        socket = f"unix://{shared / 'memd.sock'}"
        with Client(socket, timeout=10, token=token) as client:
            client.store("image:sock", [{"key": "k", "text": "over the socket"}])
            assert client.get("image:sock", ["k"])["k"].text == "over the socket"
        with Client(socket, timeout=10) as anonymous, pytest.raises(Unauthenticated):
            anonymous.get("image:sock", ["k"])
    finally:
        assert served.stop() == 0
