"""The README's history commands run as written against a daemon (``MEMD_TARGET``),
from a directory holding the example Mem0 export where the README names it."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from daemon_launcher import REPO, clean_env

from .conftest import MakeDaemon


def _commands() -> list[list[str]]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## History in and out", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^    (memd .*)$", section, re.M)
    return [shlex.split(line, comments=True) for line in lines]


def test_the_readme_commands_run_as_written(make_daemon: MakeDaemon, tmp_path: Path) -> None:
    daemon = make_daemon()
    commands = _commands()
    assert [c[:2] for c in commands] == [["memd", "export"], ["memd", "import"], ["memd", "import"]]
    examples = tmp_path / "docs" / "examples"
    examples.mkdir(parents=True)
    shutil.copy(REPO / "docs" / "examples" / "mem0-export.json", examples)
    summaries = []
    export, reimport, mem0 = commands
    for command in (mem0, export, reimport):  # the Mem0 import first: something to export
        done = subprocess.run(
            [sys.executable, "-m", *command],
            cwd=tmp_path,
            env=clean_env({"MEMD_TARGET": daemon.address}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
        summaries.append(done.stderr.splitlines()[-1])
    assert summaries == [
        "import: 4 stored, 0 rejected, 0 skipped (expired)",
        "export: 4 memories from 3 namespaces",
        "import: 4 stored, 0 rejected, 0 skipped (expired)",
    ]
    assert len((tmp_path / "memories.jsonl").read_text().splitlines()) == 4
