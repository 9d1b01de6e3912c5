"""Progress: a bar redrawn in place on a terminal (rate, ETA), plain lines elsewhere;
``memd import`` under a real pseudo-terminal draws the bar."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from daemon_launcher import REPO, clean_env

from memd.history.progress import Progress

from .conftest import MakeDaemon


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_redrawn_with_rate_and_eta() -> None:
    out = Terminal()
    bar = Progress("import", total=1_000, start=200, stream=out)
    bar.update(600, 400)
    bar.finish("400 stored")
    drawn = out.getvalue()
    first = drawn.split("\x1b[K")[0]
    assert first.startswith("\rimport [##############..........]  60.0% 400 memories ")
    assert first.endswith("/s ETA 0:00:00")
    assert drawn.endswith("\nimport: 400 stored\n") and drawn.count("\n") == 2


def test_in_a_log_plain_lines_at_most_every_interval() -> None:
    out = io.StringIO()
    bar = Progress("export", total=0, stream=out, interval_s=3600)
    for n in range(1, 1_000):
        bar.update(n, n)
    bar.finish("999 memories from 1 namespaces")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # The first update, then nothing within the hour, then the last state and the summary.
    assert lines[0].startswith("export: 1 memories, ") and lines[0].endswith("/s")
    assert lines[1].startswith("export: 999 memories, ")
    assert lines[2:] == ["export: 999 memories from 1 namespaces"]


def test_none_prints_nothing() -> None:
    out = Terminal()
    bar = Progress("import", 10, "none", stream=out)
    bar.update(5, 5)
    bar.finish("done")
    assert out.getvalue() == ""


def test_memd_import_on_a_terminal_draws_the_bar(make_daemon: MakeDaemon, tmp_path: Path) -> None:
    daemon = make_daemon()
    path = tmp_path / "one.jsonl"
    path.write_text("".join(f'{{"namespace":"n","key":"k{i}","text":"t{i}"}}\n' for i in range(50)))
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "memd", "import", "--target", daemon.address, str(path)],
        cwd=REPO,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    )
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    assert proc.wait(60) == 0, drawn
    text = drawn.decode()
    assert "\rimport [########################] 100.0% 50 memories" in text
    assert "import: 50 stored, 0 rejected, 0 skipped (expired)" in text
