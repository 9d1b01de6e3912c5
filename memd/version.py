"""memd's version: set once, in ``rust_core/Cargo.toml``, read from package metadata.

maturin copies the crate's version into the Python distribution's metadata
(``dynamic = ["version"]`` in pyproject.toml), for a wheel and for an editable install
(``pip install -e .``, ``make install``) alike, so ``memd --version``, the
``memd_build_info`` metric and the image label all show the same number.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

UNKNOWN = "0+unknown"
"""Reported when memd runs from a source tree that was never installed."""

_SCRIPT = "memd.cli:main"


@cache
def memd_version() -> str:
    """The version of the installed memd distribution, or ``UNKNOWN``.

    The distribution is found by the ``memd`` console script it declares rather than
    by its name: the name is a packaging choice (PyPI's ``memd`` is another project),
    while the script's target is this package's own entry point.
    """
    for script in entry_points(group="console_scripts", name="memd"):
        if script.value == _SCRIPT and script.dist is not None:
            return str(script.dist.version)
    return UNKNOWN
