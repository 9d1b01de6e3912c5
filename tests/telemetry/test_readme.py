"""The README's tracing example runs as written against ``memd serve`` as it shows it.

Only the daemon's address changes (to an ephemeral port); the daemon's console spans
(stdout) must be the example's two calls, in the trace the example prints.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from daemon_launcher import REPO, clean_env

HEADING = "### Tracing with OpenTelemetry"
DEFAULT_TARGET = "127.0.0.1:50051"


def _section() -> str:
    text = (REPO / "README.md").read_text()
    return text[text.index(HEADING) :]


def _serve(flags: list[str], data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """``memd serve`` with the README's flags on an ephemeral port: (process, address)."""
    args = ["--data-dir", str(data_dir), "--listen", "127.0.0.1:0", "--metrics-listen", "off"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "memd", "serve", *flags, *args, "--log-format", "json"],
        cwd=REPO,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # the daemon logs where it listens once it serves
        event = json.loads(line)
        if event.get("event") == "listening":
            return proc, event["grpc"][0]
    proc.kill()
    raise AssertionError(f"memd serve exited: {proc.wait()}")


def test_the_readme_tracing_example_runs(tmp_path: Path):
    section = _section()
    serve = re.search(r"^    memd serve (.+)$", section, re.M)
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert serve and code
    assert DEFAULT_TARGET in code.group(1)
    proc, address = _serve(serve.group(1).split(), tmp_path / "data")
    try:
        done = subprocess.run(
            [sys.executable, "-c", code.group(1).replace(DEFAULT_TARGET, address)],
            cwd=REPO,
            # memd-client, as installed: the package is not installed into .venv
            env=clean_env({"PYTHONPATH": str(REPO / "clients" / "python")}),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        proc.terminate()  # flushes the spans still queued
        out, _ = proc.communicate(timeout=60)
    assert done.returncode == 0, done.stderr
    texts, trace = done.stdout.splitlines()
    assert texts == "['the user likes tea']"
    spans = [json.loads(line) for line in out.splitlines()]
    assert [s["name"] for s in spans] == ["upsert_memory", "search_memory"]
    for span in spans:
        assert span["kind"] == "SpanKind.SERVER"
        assert span["context"]["trace_id"] == "0x" + trace.removeprefix("trace ")
        assert span["parent_id"] is not None
        assert span["attributes"]["gen_ai.memory.store.id"] == "agent:demo"
        assert "gen_ai.memory.records" not in span["attributes"]
