"""One version, set in rust_core/Cargo.toml, everywhere it is reported."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from memd.version import memd_version

from .daemon import REPO, Daemon, clean_env, sample
from .state import QUIET


def _cargo_version() -> str:
    with open(REPO / "rust_core" / "Cargo.toml", "rb") as fh:
        return str(tomllib.load(fh)["package"]["version"])


def test_the_package_reports_the_crate_version() -> None:
    # Fails after a version bump until the package is reinstalled (make install does it).
    assert memd_version() == _cargo_version()
    done = subprocess.run(
        [sys.executable, "-m", "memd", "--version"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == f"memd {_cargo_version()}"


def test_build_info_metric_carries_the_version(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "data", *QUIET)
    try:
        assert sample(d.metrics(), "memd_build_info", version=_cargo_version()) == 1
    finally:
        d.close()
