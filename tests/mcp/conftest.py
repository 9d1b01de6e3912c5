"""Fixtures of the ``memd mcp`` tests: one real daemon with tokens for the package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from daemon_launcher import Daemon
from mcp_host import GRANTS, MAX_TEXT


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon (auth on) per test module; tests isolate themselves by namespace."""
    d = Daemon(
        tmp_path_factory.mktemp("mcp") / "data",
        "--engine-max-text-bytes",
        str(MAX_TEXT),
        tokens=GRANTS,
    )
    yield d
    d.close()
