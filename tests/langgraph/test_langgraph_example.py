"""The documented examples run as written: the graph example, the README, docs/langgraph.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_launcher import Daemon
from lg_common import FLAGS

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "clients" / "python" / "examples" / "langgraph_graph.py"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def test_graph_example_stores_and_recalls_across_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "clients" / "python")}
    daemon = Daemon(tmp_path / "data", *FLAGS)
    try:
        runs = [
            subprocess.run(
                [sys.executable, str(EXAMPLE), daemon.address],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
            for _ in range(2)
        ]
    finally:
        daemon.close()
    first, second = runs
    assert "alice's memories before this run: 0" in first
    assert "alice's memories before this run: 2" in second  # the first run's, kept once
    for out in runs:
        assert "-> I remember: I take my tea with oat milk\n" in out
        assert "bob: where does my sister live?\n  -> I don't remember" in out  # not alice's
        assert "namespaces: [('memories', 'alice'), ('memories', 'bob')]" in out


def test_readme_example_runs(daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    [example] = [b for b in python_blocks(REPO / "README.md") if "MemdStore(" in b]
    assert example.count('"127.0.0.1:50051"') == 1
    exec(compile(example.replace("127.0.0.1:50051", daemon.address), "README", "exec"), {})
    assert capsys.readouterr().out.splitlines() == ["metric", "['prefs']"]


def test_docs_async_example_runs(daemon: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    [example] = [b for b in python_blocks(REPO / "docs" / "langgraph.md") if "asyncio" in b]
    exec(compile(example.replace("127.0.0.1:50051", daemon.address), "docs", "exec"), {})
    assert capsys.readouterr().out.splitlines() == ["{'text': 'likes green tea'}"]
