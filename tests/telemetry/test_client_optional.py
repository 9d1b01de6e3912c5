"""The Python client without OpenTelemetry installed: it works and sends no context."""

from __future__ import annotations

import subprocess
import sys

from daemon_launcher import REPO, clean_env

from .conftest import StartTraced

_CLIENT = """
import sys
sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
sys.path.insert(0, "clients/python")
from memd_client import Client
from memd_client._tracing import trace_metadata
assert trace_metadata() is None
with Client(sys.argv[1]) as client:
    print(client.store("ns", [{"text": "no tracing here"}]).keys[0])
"""


def test_the_client_needs_no_opentelemetry(start_traced: StartTraced):
    daemon = start_traced()
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, daemon.target],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    span = daemon.span("Store")
    assert span.parent is None  # nothing was propagated
    assert (span.attributes or {})["gen_ai.memory.record.id"] == done.stdout.strip()
