"""The README's host configuration and docs/mcp.md's Python example run as written.

Only the daemon's address is changed (to a test daemon with auth off, as ``make serve``
runs it), and ``memd`` is the script of this environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from daemon_launcher import REPO, Daemon, clean_env
from mcp import Client, StdioServerParameters
from mcp_host import stored

BIN = Path(sys.executable).parent
DEFAULT_TARGET = "127.0.0.1:50051"


@pytest.fixture(scope="module")
def open_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("mcp-docs") / "data")
    yield d
    d.close()


def _block(path: Path, heading: str, lang: str) -> str:
    """The first ```lang block after ``heading`` in ``path``."""
    text = path.read_text()
    section = text[text.index(heading) :]
    match = re.search(rf"```{lang}\n(.*?)```", section, re.S)
    assert match, f"no {lang} block after {heading!r} in {path}"
    return match.group(1)


def test_the_readme_host_config_starts_a_working_server(open_daemon: Daemon) -> None:
    config = json.loads(_block(REPO / "README.md", "## Using memd from an MCP host", "json"))
    server = config["mcpServers"]["memd"]
    assert server["env"]["MEMD_TARGET"] == DEFAULT_TARGET
    params = StdioServerParameters(
        command=str(BIN / server["command"]),
        args=server["args"],
        env={**server["env"], "MEMD_TARGET": open_daemon.tcp},
    )
    namespace = server["args"][server["args"].index("--namespace") + 1]
    text = f"configured from the README {uuid.uuid4().hex}"

    async def scenario() -> None:
        async with Client(params) as client:
            r = await client.call_tool("remember", {"text": text})
            assert not r.is_error, r.content

    anyio.run(scenario)
    assert text in [m.text for m in stored(open_daemon, namespace)]


def test_the_python_example_runs(open_daemon: Daemon) -> None:
    code = _block(REPO / "docs" / "mcp.md", "## Try it from Python", "python")
    assert DEFAULT_TARGET in code
    env = clean_env({"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    done = subprocess.run(
        [sys.executable, "-c", code.replace(DEFAULT_TARGET, open_daemon.tcp)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first, *_, last = done.stdout.strip().splitlines()
    assert first.startswith("1 memory matches 'units'")
    assert "The user prefers metric units" in done.stdout
    assert re.fullmatch(r"[0-9A-Z]{26}", last)
