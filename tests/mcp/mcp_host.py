"""The SDK's MCP client on a real ``python -m memd mcp`` process, over stdio or Streamable HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from daemon_launcher import REPO, Daemon, clean_env
from mcp import Client, StdioServerParameters

from memd._pb.v1 import memory_service_pb2 as pb

MAX_TEXT = 1024
"""The daemon's --engine-max-text-bytes: small, so an over-long text is cheap to send."""
GRANTS = {
    "rw": "mcp/*=read,write,delete",
    "ro": "mcp/*=read",
}
"""Tokens of the tests' daemon, by name: namespaces under ``mcp/`` only."""


def mcp_args(daemon: Daemon, *flags: str) -> list[str]:
    """``-m memd mcp --target <daemon> FLAGS``."""
    return ["-m", "memd", "mcp", "--target", daemon.tcp, *flags]


class HttpServer:
    """``memd mcp --transport http --port 0`` in a child process, until ``stop``."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args, "--transport", "http", "--port", "0"],
            cwd=REPO,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        if "serving MCP" not in first:
            self.stop()
            raise AssertionError(f"memd mcp did not start: {first}")
        self.url = first.rsplit(" at ", 1)[1].strip()

    def stop(self) -> tuple[int, str]:
        """SIGTERM; the exit status (uvicorn ends by the signal after shutting down) and
        what the server wrote to stderr after its first line."""
        if self.proc.poll() is None:
            self.proc.terminate()
        assert self.proc.stderr is not None
        with self.proc.stderr:
            log = self.proc.stderr.read()
        return self.proc.wait(30), log


@asynccontextmanager
async def connect(
    transport: str,
    daemon: Daemon,
    *flags: str,
    token: str = "rw",
    mode: str = "auto",
    env: dict[str, str] | None = None,
) -> AsyncIterator[Client]:
    """The SDK's ``Client`` on a new ``memd mcp`` with ``flags``, the token named ``token``
    in MEMD_TOKEN and ``env`` in its environment.

    stdio: the client spawns the server itself, as a host does; http: the server runs
    in a child process and the client connects to its URL; at the end, the server must
    stop on SIGTERM without an error in its log.
    """
    env = {**({"MEMD_TOKEN": daemon.tokens[token]} if token else {}), **(env or {})}
    args = mcp_args(daemon, *flags)
    if transport == "stdio":
        params = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=REPO)
        async with Client(params, mode=mode) as client:
            yield client
        return
    server = HttpServer(args, env)
    try:
        async with Client(server.url, mode=mode) as client:
            yield client
    finally:
        code, log = server.stop()
    # Checked only after a clean exit of the block (an assertion inside already failed).
    assert code == -signal.SIGTERM, log  # uvicorn re-raises the signal after shutting down
    assert "Traceback" not in log and "ERROR" not in log, log


def stored(daemon: Daemon, namespace: str) -> list[Any]:
    """Every memory of ``namespace``, in key order, read with the admin token."""
    reply = daemon.stub.List(pb.ListRequest(namespace=namespace, page_size=1000), timeout=30)
    return list(reply.memories)
