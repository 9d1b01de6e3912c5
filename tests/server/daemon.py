"""Run a real ``memd serve`` process for end-to-end tests.

The launcher lives in ``tests/daemon_launcher.py``, shared with the Go and TypeScript
client tests (which run it as a program); this module keeps the names the server tests
import.
"""

from __future__ import annotations

from daemon_launcher import REPO, START_TIMEOUT_S, Daemon, StartDaemon, clean_env, sample

__all__ = ["REPO", "START_TIMEOUT_S", "Daemon", "StartDaemon", "clean_env", "sample"]
