"""The daemon options only the TOML file can set: lists of tables.

``[[lifecycle.policies]]`` (retention policies, in order) and
``[lifecycle.categories.<name>]`` (per-category retention and importance). Each table
is checked key by key, so a typo names its file, table and key instead of being
ignored. The flat options (flag, environment, TOML) are in ``memd.config_options``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memd.config_parse import ConfigError, pattern_rules, tier_number
from memd.embed.options import parse_namespace_rules
from memd.types import CategoryOptions, PolicyOptions, Tier

_DAY_MS = 86_400_000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)
_DURATION_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": _DAY_MS, "w": 7 * _DAY_MS}
_ACTIONS = ("archive", "demote", "delete", "refresh")


def parse_duration_ms(value: Any) -> int:
    """Milliseconds from an integer (ms) or a string with a unit.

    Units: ``ms``, ``s``, ``m``, ``h``, ``d``, ``w`` (``"30d"``, ``"12h"``, ``"1.5h"``).
    Negative durations are errors.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"expected milliseconds or a duration like '30d', got {value!r}")
    if isinstance(value, int):
        ms = value
    else:
        match = _DURATION.match(value.replace("_", ""))
        if match is None:
            if value.strip().lstrip("-").isdigit():
                ms = int(value)
            else:
                raise ConfigError(
                    f"expected a duration like 500ms, 45s, 90m, 12h, 30d or 2w, got {value!r}"
                )
        else:
            ms = round(float(match.group(1)) * _DURATION_MS[match.group(2).lower()])
    if ms < 0:
        raise ConfigError(f"a duration cannot be negative, got {value!r}")
    return ms


def _unit_float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{what}: expected a number in [0, 1], got {value!r}")
    return float(value)


def _tier_list(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"tiers: expected a list of tier names, got {value!r}")
    try:
        return tuple(tier_number(v) for v in value)
    except ConfigError as exc:
        raise ConfigError(f"tiers: {exc}") from None


_POLICY_KEYS = (
    "name",
    "action",
    "tiers",
    "categories",
    "min_idle_ms",
    "min_idle",
    "min_age_ms",
    "min_age",
    "importance_below",
    "importance_above",
    "access_count_below",
    "retention_below",
)


def _policy(table: Any, where: str) -> PolicyOptions:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {type(table).__name__}")
    unknown = sorted(set(table) - set(_POLICY_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(_POLICY_KEYS)})")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: 'name' is required (a non-empty string)")
    where = f"{where} ({name})"
    try:
        action = table.get("action")
        if action not in _ACTIONS:
            raise ConfigError(f"action: expected one of {', '.join(_ACTIONS)}, got {action!r}")
        durations: dict[str, int | None] = {}
        for field in ("min_idle", "min_age"):
            if f"{field}_ms" in table and field in table:
                raise ConfigError(f"set {field}_ms or {field}, not both")
            key = f"{field}_ms" if f"{field}_ms" in table else field
            try:
                durations[field] = None if key not in table else parse_duration_ms(table[key])
            except ConfigError as exc:
                raise ConfigError(f"{key}: {exc}") from None
        categories = table.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ConfigError(f"categories: expected a list of strings, got {categories!r}")
        count = table.get("access_count_below")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 0
        ):
            raise ConfigError(f"access_count_below: expected an integer >= 0, got {count!r}")
        floats = {
            key: None if table.get(key) is None else _unit_float(table[key], key)
            for key in ("importance_below", "importance_above", "retention_below")
        }
        return PolicyOptions(
            name=name,
            action=action,
            tiers=_tier_list(table.get("tiers", [])),
            categories=tuple(categories),
            min_idle_ms=durations["min_idle"],
            min_age_ms=durations["min_age"],
            importance_below=floats["importance_below"],
            importance_above=floats["importance_above"],
            access_count_below=count,
            retention_below=floats["retention_below"],
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_policies(value: Any, path: str) -> tuple[PolicyOptions, ...]:
    """``[[lifecycle.policies]]`` tables as PolicyOptions, in file order."""
    where = f"{path}: lifecycle.policies"
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected an array of tables ([[lifecycle.policies]])")
    policies = tuple(_policy(t, f"{where}[{i}]") for i, t in enumerate(value))
    names = [p.name for p in policies]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}: policy name {name!r} is used twice")
    return policies


_CATEGORY_KEYS = ("retention_days", "importance", "description")


def parse_categories(value: Any, path: str) -> tuple[CategoryOptions, ...]:
    """``[lifecycle.categories.<name>]`` tables as CategoryOptions, sorted by name."""
    where = f"{path}: lifecycle.categories"
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected tables [lifecycle.categories.<name>]")
    out = []
    for name, table in sorted(value.items()):
        here = f"{where}.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{here}: expected a table, got {type(table).__name__}")
        unknown = sorted(set(table) - set(_CATEGORY_KEYS))
        if unknown:
            raise ConfigError(
                f"{here}: unknown key {unknown[0]!r} (known: {', '.join(_CATEGORY_KEYS)})"
            )
        days = table.get("retention_days", 0)
        if (
            isinstance(days, bool)
            or not isinstance(days, (int, float))
            or (days < 0 and days != -1)
        ):
            raise ConfigError(
                f"{here}: retention_days: expected days >= 0, or -1 (keep forever), got {days!r}"
            )
        importance = table.get("importance")
        if importance is not None:
            try:
                importance = _unit_float(importance, "importance")
            except ConfigError as exc:
                raise ConfigError(f"{here}: {exc}") from None
        description = table.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{here}: description: expected a string")
        out.append(
            CategoryOptions(
                name=name,
                retention_ms=round(days * _DAY_MS) if days > 0 else 0,
                importance=importance,
            )
        )
    return tuple(out)


DEFAULT_POLICIES: tuple[PolicyOptions, ...] = (
    PolicyOptions(
        name="archive_old_low_importance",
        action="archive",
        tiers=(Tier.WORKING, Tier.SHORT_TERM, Tier.LONG_TERM),
        min_idle_ms=30 * _DAY_MS,
        importance_below=0.3,
    ),
    PolicyOptions(
        name="delete_ancient_archives",
        action="delete",
        tiers=(Tier.ARCHIVE,),
        min_age_ms=365 * _DAY_MS,
    ),
    PolicyOptions(
        name="refresh_important",
        action="refresh",
        min_idle_ms=7 * _DAY_MS,
        importance_above=0.8,
    ),
)
"""Seed 004's policies; on unless the TOML file sets ``lifecycle.policies``."""


@dataclass(frozen=True, slots=True)
class TableOption:
    """An option only the TOML file can set: an array of tables or a table of tables.

    Attributes:
        key: Dotted TOML key.
        help: One-line description.
        default: Built-in default (already parsed).
        parse: ``(TOML value, file path) -> value``; raises ConfigError.
    """

    key: str
    help: str
    default: Any
    parse: Callable[[Any, str], Any]


TABLE_OPTIONS: dict[str, TableOption] = {
    t.key: t
    for t in (
        TableOption(
            "lifecycle.policies",
            "[[lifecycle.policies]]: retention policies, evaluated in order; replaces the "
            "defaults (an empty list turns them off)",
            DEFAULT_POLICIES,
            parse_policies,
        ),
        TableOption(
            "lifecycle.categories",
            "[lifecycle.categories.<name>]: retention_days and importance per metadata category",
            (),
            parse_categories,
        ),
        TableOption(
            "embed.namespaces",
            "[[embed.namespaces]]: pattern (a namespace, or a prefix ending in *) and "
            "backend (none, local, openai); the first match overrides embed.backend",
            (),
            parse_namespace_rules,
        ),
        TableOption(
            "engine.vector_quantization_namespaces",
            "[[engine.vector_quantization_namespaces]]: pattern (a namespace, or a prefix "
            "ending in *) and quantization (none, int8); the first match overrides "
            "engine.vector_quantization",
            (),
            lambda value, path: pattern_rules(
                value,
                path,
                "engine.vector_quantization_namespaces",
                "quantization",
                ("none", "int8"),
            ),
        ),
    )
}
