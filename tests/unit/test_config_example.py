"""docs/examples/memd.toml: every option, at its default, generated from the option table."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from memd.config import Config, load_config
from memd.config_example import render
from memd.config_options import OPTIONS
from memd.config_tables import TABLE_OPTIONS

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "memd.toml"


def _load(path: Path) -> Config:
    return load_config(argparse.Namespace(config=str(path)), environ={})


def test_the_committed_file_is_the_generated_one() -> None:
    assert EXAMPLE.read_text() == render(), (
        "docs/examples/memd.toml is stale: python -m memd.config_example > docs/examples/memd.toml"
    )


def test_it_loads_to_exactly_the_defaults() -> None:
    assert _load(EXAMPLE) == Config.defaults()


def test_every_option_is_set_in_it() -> None:
    # Each key must be set, not only mentioned: a table header followed by the key's last
    # part, or the key itself at the top level.
    text = EXAMPLE.read_text()
    table = ""
    keys: set[str] = set()
    for line in text.splitlines():
        if header := re.fullmatch(r"\[\[?([\w.]+)\]\]?", line):
            table = header.group(1)
            keys.add(table)
        elif assign := re.match(r"(\w+) = ", line):
            keys.add(f"{table}.{assign.group(1)}" if table else assign.group(1))
    expected = {opt.key for opt in OPTIONS} | set(TABLE_OPTIONS)
    assert expected <= keys, sorted(expected - keys)


def test_each_value_matters(tmp_path: Path) -> None:
    # The file is read, not ignored: changing one line changes the configuration.
    changed = tmp_path / "memd.toml"
    changed.write_text(EXAMPLE.read_text().replace('durability = "sync"', 'durability = "nosync"'))
    assert _load(changed).engine.durability == "nosync"
