"""docs/daemon.md's option table lists every option of ``memd serve``, as the code names it.

The table is written by hand (its rows fold the four tiers into one), so this test is
what keeps it from drifting from ``memd.config_options.OPTIONS``: a new option without
a row, a row for an option that is gone, or a flag or variable spelled differently
fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from memd.config_options import OPTIONS, Option
from memd.config_parse import TIER_NAMES

DOC = Path(__file__).resolve().parents[2] / "docs" / "daemon.md"
ROW = re.compile(r"^\| `([a-z_.<>]+)` \| `(--[a-z<>-]+)` \| `(MEMD_[A-Z_<>]+)` \|", re.M)


def _folded(opt: Option) -> tuple[str, str, str]:
    """(key, flag, env) of ``opt`` with a tier name replaced by ``<tier>``, as the table has."""
    key, flag, env = opt.key, opt.flag, opt.env
    for tier in TIER_NAMES:
        if key.startswith(f"tiers.{tier}."):
            key = key.replace(f".{tier}.", ".<tier>.")
            flag = flag.replace(f"-{tier.replace('_', '-')}-", "-<tier>-")
            env = env.replace(f"_{tier.upper()}_", "_<TIER>_")
    return key, flag, env


def test_every_option_has_one_row_and_every_row_an_option() -> None:
    rows = ROW.findall(DOC.read_text())
    assert rows, "no option rows found in docs/daemon.md"
    assert len(rows) == len(set(rows)), "a row appears twice"
    options = {_folded(opt) for opt in OPTIONS}
    assert set(rows) == options, {
        "missing from docs/daemon.md": sorted(options - set(rows)),
        "in docs/daemon.md but not an option": sorted(set(rows) - options),
    }
