"""``engine.vector_quantization`` and its per-namespace rules, as the TOML file sets them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import pytest

from memd.config import ConfigError, load_config

if TYPE_CHECKING:
    from pathlib import Path


def _engine(tmp_path: Path, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    path = tmp_path / "memd.toml"
    path.write_text(text)
    engine = load_config(argparse.Namespace(config=str(path)), environ={}).engine
    return engine.vector_quantization, engine.vector_quantization_namespaces


def test_rules_are_read_in_file_order_beside_the_default(tmp_path: Path) -> None:
    text = (
        '[engine]\nvector_quantization = "int8"\n'
        '[[engine.vector_quantization_namespaces]]\npattern = "exact:*"\nquantization = "none"\n'
        '[[engine.vector_quantization_namespaces]]\npattern = "logs"\nquantization = "int8"\n'
    )
    assert _engine(tmp_path, text) == ("int8", (("exact:*", "none"), ("logs", "int8")))
    assert _engine(tmp_path, "") == ("none", ())


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('pattern = "a"\nquantization = "pq"', r"quantization must be one of none, int8"),
        ('pattern = "a*b"\nquantization = "int8"', r"prefix ending in \*"),
        ('pattern = "a"', r"exactly the keys pattern and quantization"),
    ],
)
def test_a_bad_rule_names_its_table_and_index(tmp_path: Path, rule: str, message: str) -> None:
    text = f"[[engine.vector_quantization_namespaces]]\n{rule}\n"
    with pytest.raises(ConfigError, match=rf"vector_quantization_namespaces\[0\].*{message}"):
        _engine(tmp_path, text)
