"""The table of daemon options: key, parser, default and help of each.

``memd.config`` merges the layers; this module only says what an option is and how a
string (flag, environment) or a TOML value becomes its value. Defaults come from
``Config`` and ``EngineOptions`` so they are written down once.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memd.types import EngineOptions, LifecycleOptions, Tier

_ENGINE = EngineOptions()
_LIFECYCLE = LifecycleOptions()
_TIER_NAMES = ("working", "short_term", "long_term", "archive")
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_SHIFT = {"": 0, "b": 0, "k": 10, "m": 20, "g": 30, "t": 40}


class ConfigError(argparse.ArgumentTypeError):
    """A configuration value is unknown, malformed or out of range.

    It is an ``ArgumentTypeError`` so that argparse prints its message as is.
    """


@dataclass(frozen=True, slots=True)
class Option:
    """One configuration option.

    Attributes:
        key: Dotted TOML key; the flag and env var names derive from it.
        group: ``--help`` section.
        help: One-line description (units included).
        default: Built-in default (already parsed).
        parse: Turns a string into the value; raises ConfigError.
        repeatable: A list: the flag may repeat, the env var is comma-separated.
        show: Renders the default for ``--help``.
    """

    key: str
    group: str
    help: str
    default: Any
    parse: Callable[[str], Any]
    repeatable: bool = False
    show: Callable[[Any], str] = str

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--engine-durability``."""
        return "--" + self.key.replace(".", "-").replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable, e.g. ``MEMD_ENGINE_DURABILITY``."""
        return "MEMD_" + self.key.replace(".", "_").upper()

    @property
    def dest(self) -> str:
        """The argparse attribute name."""
        return self.key.replace(".", "__")

    @property
    def metavar(self) -> str:
        """Placeholder shown in ``--help``."""
        return self.key.rsplit(".", 1)[-1].upper()

    @property
    def default_text(self) -> str:
        """The default as shown in ``--help`` and the docs."""
        if self.repeatable:
            return ",".join(self.default)
        return self.show(self.default) if self.default != "" else '"" (off)'

    def parse_env(self, raw: str) -> Any:
        """Parse an environment variable's value."""
        try:
            if self.repeatable:
                return [self.parse(part.strip()) for part in raw.split(",") if part.strip()]
            return self.parse(raw)
        except ConfigError as exc:
            raise ConfigError(f"{self.env}: {exc}") from None

    def check_toml(self, value: Any, path: str) -> Any:
        """Validate and convert a value read from the TOML file."""
        try:
            if self.repeatable:
                items = [value] if isinstance(value, str) else value
                if not isinstance(items, list):
                    raise ConfigError("expected a list of strings")
                return [self.parse(item) for item in items]
            if isinstance(value, bool) and self.parse is _bool:
                return value
            if isinstance(value, (dict, list, bool)):
                raise ConfigError(f"expected a scalar, got {type(value).__name__}")
            return self.parse(str(value))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {self.key}: {exc}") from None


def _int(lo: int = 0, hi: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise ConfigError(f"expected an integer, got {raw!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise ConfigError(f"{value} is out of range [{lo}, {hi if hi is not None else ''}]")
        return value

    return parse


def _float(lo: float = 0.0, hi: float | None = None) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"expected a number, got {raw!r}") from None
        if not (value >= lo) or (hi is not None and value > hi):
            raise ConfigError(f"{value} is out of range [{lo}, {hi if hi is not None else ''}]")
        return value

    return parse


def _size(raw: str) -> int:
    """Bytes, optionally with a binary suffix: ``16777216``, ``16MiB``, ``64G``."""
    match = _SIZE.match(raw.replace("_", ""))
    if not match:
        raise ConfigError(f"expected a size like 1048576 or 16MiB, got {raw!r}")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) << _SIZE_SHIFT[unit]


def _choice(*names: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in names:
            raise ConfigError(f"expected one of {', '.join(names)}, got {raw!r}")
        return raw.lower()

    return parse


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"expected true or false, got {raw!r}")


def tier_number(raw: str) -> int:
    """A tier name (``long_term``, ``TIER_LONG_TERM``) as its number."""
    name = raw.lower().removeprefix("tier_")
    if name not in _TIER_NAMES:
        raise ConfigError(f"expected one of {', '.join(_TIER_NAMES)}, got {raw!r}")
    return int(Tier[name.upper()])


def _grpc_address(raw: str) -> str:
    """``host:port``, ``[v6]:port`` or ``unix:///absolute/path.sock``."""
    if raw.startswith("unix:"):
        if len(raw) <= len("unix:"):
            raise ConfigError("unix: address needs a path, e.g. unix:///run/memd.sock")
        return raw
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"expected host:port or unix:///path.sock, got {raw!r}")
    return raw


def _http_address(raw: str) -> str:
    """``host:port``, or ``""``/``off`` to disable the endpoint."""
    if raw.strip().lower() in ("", "off", "none"):
        return ""
    if raw.startswith("unix:"):
        raise ConfigError("the metrics endpoint listens on TCP only (host:port)")
    return _grpc_address(raw)


def _tier_options() -> list[Option]:
    out = []
    for index, name in enumerate(_TIER_NAMES):
        tier = _ENGINE.tiers[index]
        out += [
            Option(
                f"tiers.{name}.capacity",
                "tiers",
                f"Most memories per namespace in {name.upper()}; 0 is unbounded",
                tier.capacity,
                _int(),
            ),
            Option(
                f"tiers.{name}.default_ttl_ms",
                "tiers",
                f"TTL in ms for {name.upper()} memories stored without one; 0 never expires",
                tier.default_ttl_ms,
                _int(),
            ),
        ]
    return out


def _tier_name(value: int) -> str:
    return Tier(value).name.lower()


def _lifecycle_options() -> list[Option]:
    lc, dd, cp = "lifecycle", "dedup", "compression"
    return [
        Option(
            "lifecycle.interval_s",
            lc,
            "Seconds between full lifecycle passes (policies, then consolidation) over "
            "every namespace; 0 disables them",
            600.0,
            _float(),
        ),
        Option(
            "lifecycle.max_actions",
            lc,
            "Most actions one scheduled pass takes; a pass that hits it continues shortly after",
            10_000,
            _int(1, 100_000),
        ),
        Option(
            "lifecycle.capacity_check_s",
            lc,
            "Seconds between checks of SHORT_TERM fill per namespace (see "
            "--lifecycle-consolidate-at); 0 disables them",
            5.0,
            _float(),
        ),
        Option(
            "lifecycle.consolidate_at",
            lc,
            "SHORT_TERM fill (count / capacity) at which a namespace is consolidated",
            0.8,
            _float(0.01, 1.0),
        ),
        Option(
            "lifecycle.consolidate_min_importance",
            lc,
            "SHORT_TERM memories at least this important move to LONG_TERM on consolidation",
            _LIFECYCLE.consolidate_min_importance,
            _float(0.0, 1.0),
        ),
        Option(
            "lifecycle.consolidate_min_access_count",
            lc,
            "...and so do those read or written at least this many times",
            _LIFECYCLE.consolidate_min_access_count,
            _int(1),
        ),
        Option(
            "lifecycle.consolidate_min_age_ms",
            lc,
            "Only memories created at least this long ago (ms) are consolidated",
            _LIFECYCLE.consolidate_min_age_ms,
            _int(),
        ),
        Option(
            "dedup.exact",
            dd,
            "A stored text identical to a live memory's text in the same namespace updates "
            "that memory instead of adding one",
            True,
            _bool,
            show=lambda v: str(v).lower(),
        ),
        Option(
            "dedup.near_threshold",
            dd,
            "Cosine at or above which a memory with an embedding is a near-duplicate; 0 disables",
            _LIFECYCLE.dedup_near_threshold,
            _float(0.0, 1.0),
        ),
        Option(
            "dedup.near_action",
            dd,
            "merge near-duplicates like identical texts, or flag them (store anyway, report "
            "the similar key)",
            _LIFECYCLE.dedup_near_action,
            _choice("merge", "flag"),
        ),
        Option(
            "compression.from_tier",
            cp,
            "Values are lz4-compressed in this tier and colder ones",
            _LIFECYCLE.compress_from_tier,
            tier_number,
            show=_tier_name,
        ),
        Option(
            "compression.min_bytes",
            cp,
            "Smallest value that is compressed (when compression shrinks it)",
            _LIFECYCLE.compress_min_bytes,
            _size,
        ),
    ]


_S, _E, _L = "server", "engine", "limits"

OPTIONS: tuple[Option, ...] = (
    Option(
        "listen",
        _S,
        "gRPC address host:port or unix:///path.sock; repeat to listen on several",
        ["127.0.0.1:50051"],
        _grpc_address,
        repeatable=True,
    ),
    Option("data_dir", _S, "LMDB data directory (created if missing)", "./data", str),
    Option(
        "metrics_listen",
        _S,
        'Prometheus /metrics address host:port; "off" disables it',
        "127.0.0.1:9464",
        _http_address,
    ),
    Option(
        "log_level",
        _S,
        "debug, info, warning or error",
        "info",
        _choice("debug", "info", "warning", "error"),
    ),
    Option(
        "log_format",
        _S,
        "text (key=value) or json, one line per event",
        "text",
        _choice("text", "json"),
    ),
    Option("workers", _S, "Threads serving RPCs; each open stream holds one", 16, _int(1)),
    Option(
        "max_concurrent_rpcs",
        _S,
        "RPCs in flight before new ones get RESOURCE_EXHAUSTED; 0: no limit (they queue)",
        0,
        _int(),
    ),
    Option("grace_s", _S, "Seconds in-flight RPCs get to finish on SIGTERM", 10.0, _float()),
    Option(
        "sweep_interval_s", _S, "Seconds between background TTL sweeps; 0 disables", 1.0, _float()
    ),
    Option("sweep_max_items", _S, "Most expired memories one sweep removes", 1000, _int(1)),
    Option(
        "max_message_bytes",
        _L,
        "Largest request or response message (bigger: RESOURCE_EXHAUSTED)",
        16 << 20,
        _size,
    ),
    Option(
        "max_batch_items",
        _L,
        "Most memories or keys in one request (more: RESOURCE_EXHAUSTED)",
        10_000,
        _int(1),
    ),
    Option(
        "engine.map_size_bytes",
        _E,
        "LMDB map size: the most the store can hold (virtual; the file grows as used)",
        _ENGINE.map_size_bytes,
        _size,
    ),
    Option(
        "engine.durability",
        _E,
        "sync: fsync every commit (group-committed); nosync: periodic fsync, an OS crash "
        "may lose the last interval",
        _ENGINE.durability,
        _choice("sync", "nosync"),
    ),
    Option(
        "engine.sync_interval_ms",
        _E,
        "Periodic fsync interval in nosync mode",
        _ENGINE.sync_interval_ms,
        _int(1),
    ),
    Option(
        "engine.flush_interval_ms",
        _E,
        "How often access statistics are persisted",
        _ENGINE.flush_interval_ms,
        _int(1),
    ),
    Option(
        "engine.default_tier",
        _E,
        "Tier for new memories stored without one",
        _ENGINE.default_tier,
        tier_number,
        show=_tier_name,
    ),
    Option(
        "engine.promote_min_reads",
        _E,
        "Reads within the promote window that promote a memory one tier up",
        _ENGINE.promote_min_reads,
        _int(1),
    ),
    Option(
        "engine.promote_window_ms",
        _E,
        "The window for --engine-promote-min-reads",
        _ENGINE.promote_window_ms,
        _int(1),
    ),
    Option(
        "engine.promote_importance",
        _E,
        "Importance above which any read promotes",
        _ENGINE.promote_importance,
        _float(0.0, 1.0),
    ),
    Option("engine.max_value_bytes", _E, "Largest accepted value", _ENGINE.max_value_bytes, _size),
    Option("engine.max_text_bytes", _E, "Largest accepted text", _ENGINE.max_text_bytes, _size),
    Option(
        "engine.max_embedding_dim",
        _E,
        "Largest accepted embedding dimension",
        _ENGINE.max_embedding_dim,
        _int(1),
    ),
    *_tier_options(),
    *_lifecycle_options(),
)

OPTIONS_BY_KEY: dict[str, Option] = {opt.key: opt for opt in OPTIONS}
