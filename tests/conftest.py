"""Shared fixtures: a fake clock, engines on temporary directories, the LMDB witness."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import FakeClock
from hypothesis import HealthCheck, settings
from witness import run_in_subprocess

import memd
from memd.types import EngineOptions

# Engine calls do real LMDB I/O, so per-example time varies with the machine: no deadline.
settings.register_profile(
    "fast", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "slow", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", help="also run tests marked slow (or use -m slow)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run only with ``--run-slow``, ``-m slow`` or MEMD_SLOW=1."""
    if (
        config.getoption("--run-slow")
        or "slow" in (config.getoption("-m") or "")
        or os.environ.get("MEMD_SLOW") == "1"
    ):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow, -m slow or MEMD_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_engine(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., memd.Engine]]:
    """Open engines on the fake clock; every one is closed at teardown.

    ``make_engine(options=None, path=None, **option_fields)``: ``path`` defaults to
    ``tmp_path / "store"``; keyword fields build an ``EngineOptions``.
    """
    opened: list[memd.Engine] = []

    def make(
        options: EngineOptions | None = None, path: str | Path | None = None, **fields: Any
    ) -> memd.Engine:
        if options is None:
            options = EngineOptions(**fields)
        else:
            assert not fields, "pass options or fields, not both"
        eng = memd.Engine(path or tmp_path / "store", options, clock=clock)
        opened.append(eng)
        return eng

    yield make
    for eng in opened:
        eng.close()


@pytest.fixture
def engine(make_engine: Callable[..., memd.Engine]) -> memd.Engine:
    """An engine with the daemon's default options, on the fake clock."""
    return make_engine()


@pytest.fixture
def witness() -> Callable[..., dict[str, Any]]:
    """``witness(path, values="hex", show=())``: the store as plain py-lmdb decodes it,
    read in a separate process."""
    return run_in_subprocess
