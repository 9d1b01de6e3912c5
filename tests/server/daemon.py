"""Run a real ``memd serve`` process for end-to-end tests.

The daemon listens on ephemeral ports (127.0.0.1:0) and reports the ports it bound in
its JSON "listening" log event, which is how the test finds them: no port is guessed,
so no two tests (or a stale daemon) can collide. The server never sets SO_REUSEPORT,
so a port in use fails the bind instead of being shared.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from prometheus_client.parser import text_string_to_metric_families

from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without MEMD_* settings, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEMD_")}
    return {**base, **(extra or {})}


class Daemon:
    """One ``python -m memd serve`` child process.

    Args:
        data_dir: The store directory.
        *args: Extra ``memd serve`` flags.
        env: Extra environment variables (MEMD_* from the outer environment are dropped).
    """

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        listen = [] if "--listen" in self.args else ["--listen", "127.0.0.1:0"]
        metrics = [] if "--metrics-listen" in self.args else ["--metrics-listen", "127.0.0.1:0"]
        cmd = [
            sys.executable,
            "-m",
            "memd",
            "serve",
            "--data-dir",
            str(data_dir),
            "--log-format",
            "json",
            *listen,
            *metrics,
            *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_logs, daemon=True)
        self._reader.start()
        ready = self.wait_event("listening")
        self.grpc_addresses: list[str] = ready["grpc"]
        self.metrics_address: str = ready["metrics"]
        self.address = next(a for a in self.grpc_addresses if not a.startswith("unix:"))
        self.channel = grpc.insecure_channel(self.address)
        self.stub = pb_grpc.MemoryServiceStub(self.channel)

    def _read_logs(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            try:
                doc = json.loads(line)
            except ValueError:
                continue  # asserted by tests that check the log format
            self.events.append(doc)
            self._queue.put(doc)
        self._queue.put(None)

    def wait_event(self, name: str, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Wait for log event ``name``; fails if the process exits first."""
        for doc in self.events:
            if doc.get("event") == name:
                return doc
        while True:
            try:
                doc = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {name!r} event; log:\n" + self.log()) from None
            if doc is None:
                raise AssertionError(f"daemon exited before {name!r}; log:\n" + self.log())
            if doc.get("event") == name:
                return doc

    def log(self) -> str:
        """Everything the daemon wrote to stderr so far."""
        return "\n".join(self.lines)

    def metrics(self) -> dict[str, list[Any]]:
        """Scrape /metrics and parse it: family name -> samples."""
        with urllib.request.urlopen(f"http://{self.metrics_address}/metrics", timeout=10) as r:
            text = r.read().decode()
        return {f.name: f.samples for f in text_string_to_metric_families(text)}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reap()
        return code

    def _reap(self) -> None:
        # The reader ends at EOF once the process is gone; then the pipe can be closed.
        self._reader.join(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def close(self) -> None:
        """Make sure the process is gone (teardown)."""
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reap()


def sample(families: dict[str, list[Any]], name: str, **labels: str) -> float:
    """The value of the sample ``name`` whose labels include ``labels`` (0 if none)."""
    candidates = {name, name.removesuffix("_total")}
    for suffix in ("_count", "_sum", "_bucket"):
        candidates.add(name.removesuffix(suffix))
    total = 0.0
    for family in candidates:
        for s in families.get(family, []):
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


StartDaemon = Callable[..., Daemon]
"""``start_daemon(*flags, data_dir=None, env=None) -> Daemon`` (the fixture's type)."""
