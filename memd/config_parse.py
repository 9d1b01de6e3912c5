"""Parsers of option values: a string (flag, environment, TOML scalar) to a checked value.

Each raises ``ConfigError`` with a message naming what was expected, so that argparse,
the environment layer and the TOML layer all report a bad value the same way.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Collection
from typing import Any

from memd.types import Tier

TIER_NAMES = ("working", "short_term", "long_term", "archive")
"""Tier names in tier order, as in TOML keys, flags and reports."""
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_SHIFT = {"": 0, "b": 0, "k": 10, "m": 20, "g": 30, "t": 40}


class ConfigError(argparse.ArgumentTypeError):
    """A configuration value is unknown, malformed or out of range.

    It is an ``ArgumentTypeError`` so that argparse prints its message as is.
    """


def int_in(lo: int = 0, hi: int | None = None) -> Callable[[str], int]:
    """A parser of integers in ``[lo, hi]`` (``_`` separators allowed)."""

    def parse(raw: str) -> int:
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise ConfigError(f"expected an integer, got {raw!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise ConfigError(f"{value} is out of range [{lo}, {hi if hi is not None else ''}]")
        return value

    return parse


def float_in(lo: float = 0.0, hi: float | None = None) -> Callable[[str], float]:
    """A parser of numbers in ``[lo, hi]`` (NaN refused)."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"expected a number, got {raw!r}") from None
        if not (value >= lo) or (hi is not None and value > hi):
            raise ConfigError(f"{value} is out of range [{lo}, {hi if hi is not None else ''}]")
        return value

    return parse


def size(raw: str) -> int:
    """Bytes, optionally with a binary suffix: ``16777216``, ``16MiB``, ``64G``."""
    match = _SIZE.match(raw.replace("_", ""))
    if not match:
        raise ConfigError(f"expected a size like 1048576 or 16MiB, got {raw!r}")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) << _SIZE_SHIFT[unit]


def format_size(value: int) -> str:
    """A size as ``size`` reads it, in the largest binary unit that divides it: ``16MiB``."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if value and value % (1 << shift) == 0:
            return f"{value >> shift}{unit}"
    return str(value)


def choice(*names: str) -> Callable[[str], str]:
    """A parser of one of ``names``, case-insensitive."""

    def parse(raw: str) -> str:
        if raw.lower() not in names:
            raise ConfigError(f"expected one of {', '.join(names)}, got {raw!r}")
        return raw.lower()

    return parse


def boolean(raw: str) -> bool:
    """``true/1/yes/on`` or ``false/0/no/off``."""
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"expected true or false, got {raw!r}")


def tier_number(raw: str) -> int:
    """A tier name (``long_term``, ``TIER_LONG_TERM``) as its number."""
    name = raw.lower().removeprefix("tier_")
    if name not in TIER_NAMES:
        raise ConfigError(f"expected one of {', '.join(TIER_NAMES)}, got {raw!r}")
    return int(Tier[name.upper()])


def grpc_address(raw: str) -> str:
    """``host:port``, ``[v6]:port`` or ``unix:///absolute/path.sock``."""
    if raw.startswith("unix:"):
        if len(raw) <= len("unix:"):
            raise ConfigError("unix: address needs a path, e.g. unix:///run/memd.sock")
        return raw
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"expected host:port or unix:///path.sock, got {raw!r}")
    return raw


def http_address(raw: str) -> str:
    """``host:port``, or ``""``/``off`` to disable the endpoint."""
    if raw.strip().lower() in ("", "off", "none"):
        return ""
    if raw.startswith("unix:"):
        raise ConfigError("the metrics endpoint listens on TCP only (host:port)")
    return grpc_address(raw)


def pattern_rules(
    value: Any, path: str, table: str, field: str, allowed: Collection[str]
) -> tuple[tuple[str, str], ...]:
    """``[[table]]`` arrays of per-namespace rules, in file order.

    Each rule is a ``pattern`` (a namespace, or a prefix ending in ``*``) and ``field``
    (one of ``allowed``).
    """
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {table} must be an array of tables")
    rules = []
    for i, rule in enumerate(value):
        where = f"{path}: {table}[{i}]"
        if not isinstance(rule, dict) or set(rule) != {"pattern", field}:
            raise ConfigError(f"{where}: expected exactly the keys pattern and {field}")
        pattern, chosen = rule["pattern"], rule[field]
        if not isinstance(pattern, str) or not pattern or "*" in pattern[:-1]:
            raise ConfigError(f"{where}: pattern must be a name or a prefix ending in *")
        if chosen not in allowed:
            raise ConfigError(f"{where}: {field} must be one of {', '.join(allowed)}")
        rules.append((pattern, chosen))
    return tuple(rules)
