"""``docs/examples/memd.toml``: every daemon option at its default, made from the table.

The example file is generated from the option tables (``memd.config_options``,
``memd.config_tables``) and the group descriptions (``memd.config_groups``), so it
lists every option, with its help as its comment, and cannot drift:
tests/unit/test_config_example.py compares the committed file with ``render()`` and
loads it. Regenerate it with::

    python -m memd.config_example > docs/examples/memd.toml
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from memd.config_groups import GROUPS
from memd.config_options import OPTIONS, Option
from memd.config_tables import TABLE_OPTIONS, TableOption
from memd.types import PolicyOptions, Tier

_DAY_MS = 86_400_000

_HEADER = """\
# memd.toml: every option of `memd serve`, at its default.
#
# Generated from the option table by `python -m memd.config_example`; a test fails
# when it drifts. Use it with `memd serve --config memd.toml` (or MEMD_CONFIG) and keep
# only the lines you change. Each key is also a flag and an environment variable:
# [engine] durability is --engine-durability and MEMD_ENGINE_DURABILITY; flags win over
# the environment, which wins over this file. Sizes take binary suffixes (16MiB).
"""


def render() -> str:
    """The example file's text."""
    return "\n".join([_HEADER.rstrip("\n"), *_sections()]) + "\n"


def _sections() -> Iterator[str]:
    by_group: dict[str, list[Option]] = {}
    for opt in OPTIONS:
        by_group.setdefault(opt.group, []).append(opt)
    # TOML needs every top-level key before the first [table], so the groups with
    # top-level keys come first; a group with both has its keys, then its tables.
    order = sorted(by_group, key=lambda g: _rank(by_group[g]))
    in_table = False
    for group in order:
        topic = GROUPS[group]
        yield ""
        yield f"# ==== {topic.title} ===="
        yield f"# {topic.description[0].upper()}{topic.description[1:]}."
        tables: dict[str, list[Option]] = {}
        for opt in by_group[group]:
            tables.setdefault(_table(opt), []).append(opt)
        for table, options in tables.items():
            if table:
                in_table = True
                yield ""
                yield f"[{table}]"
            elif in_table:
                raise AssertionError(f"{group}: top-level keys after a table")
            for opt in options:
                yield f"# {opt.help}"
                yield f"{opt.key.rsplit('.', 1)[-1]} = {_value(opt)}"
            yield from _table_options(table)


def _rank(options: list[Option]) -> int:
    top = any(not _table(o) for o in options)
    nested = any(_table(o) for o in options)
    return 0 if not nested else 1 if top else 2


def _table(opt: Option) -> str:
    return opt.key.rpartition(".")[0]


def _value(opt: Option) -> str:
    value = opt.default
    if isinstance(value, bool):
        return str(value).lower()
    if opt.repeatable:
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    shown = opt.show(value)
    # Sizes and tier numbers read better as their names (16MiB, short_term).
    return shown if shown.isdigit() or opt.show is str else json.dumps(shown)


def _table_options(parent: str) -> Iterator[str]:
    for table in TABLE_OPTIONS.values():
        if table.key.rpartition(".")[0] == parent:
            yield ""
            yield f"# {table.help}"
            yield from _TABLE_RENDERERS[table.key](table)


def _policies(table: TableOption) -> Iterator[str]:
    for index, policy in enumerate(table.default):
        if index:
            yield ""
        yield f"[[{table.key}]]"
        yield from _policy(policy)


def _policy(policy: PolicyOptions) -> Iterator[str]:
    for field in fields(PolicyOptions):
        value: Any = getattr(policy, field.name)
        if value is None or value == ():
            continue
        name = field.name
        if field.name == "tiers":
            value = [Tier(t).name.lower() for t in value]
        elif name.endswith("_ms") and value % _DAY_MS == 0:
            name, value = name.removesuffix("_ms"), f"{value // _DAY_MS}d"
        yield f"{name} = {json.dumps(value)}"


def _categories(table: TableOption) -> Iterator[str]:
    if table.default:
        raise AssertionError("categories have no default; render them when they do")
    yield f"[{table.key}]"
    yield "# none by default; e.g. [lifecycle.categories.preference] with retention_days = 365"
    yield "# and importance = 0.8 (docs/examples/lifecycle.toml, docs/lifecycle.md)"


def _embed_namespaces(table: TableOption) -> Iterator[str]:
    if table.default:
        raise AssertionError("embed.namespaces has no default; render it when it does")
    yield "# none by default; each rule is a table, e.g. (docs/embeddings.md):"
    yield '#   [[embed.namespaces]]  pattern = "team:alpha/*"  backend = "openai"'
    yield "namespaces = []"


def _quantization_namespaces(table: TableOption) -> Iterator[str]:
    if table.default:
        raise AssertionError("the rules have no default; render them when they do")
    yield "# none by default; each rule is a table, e.g. (docs/search.md):"
    yield "#   [[engine.vector_quantization_namespaces]]"
    yield '#   pattern = "team:big/*"  quantization = "int8"'
    yield "vector_quantization_namespaces = []"


_TABLE_RENDERERS = {
    "lifecycle.policies": _policies,
    "lifecycle.categories": _categories,
    "embed.namespaces": _embed_namespaces,
    "engine.vector_quantization_namespaces": _quantization_namespaces,
}


if __name__ == "__main__":
    print(render(), end="")
