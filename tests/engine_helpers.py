"""Small helpers shared by the engine tests (plain functions, no fixtures)."""

from __future__ import annotations

from typing import Any

import memd
from memd.types import EngineOptions, TierOptions

NS = "agent:planner/user:42"
T0_MS = 1_700_000_000_000
"""Start of fake time: a realistic epoch, so server-made keys carry a real timestamp."""


class FakeClock:
    """A clock for ``memd.Engine`` that only moves when told to (integer ms)."""

    def __init__(self, start_ms: int = T0_MS) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> int:
        """Move forward by ``ms`` and return the new time."""
        assert ms >= 0, "time does not go backwards"
        self.now_ms += ms
        return self.now_ms


TIER_COUNTERS = {
    "hits",
    "expired.lazy",
    "expired.sweep",
    "evicted.capacity",
    "demoted.capacity",
    "promoted.frequency",
    "promoted.importance",
    "deleted",
    "consolidated",
    "policy.archived",
    "policy.demoted",
    "policy.deleted",
    "policy.refreshed",
    "dedup.merged",
    "dedup.flagged",
    "transferred.in",
    "transferred.out",
    "cleared",
}


def small_tiers(
    working: int = 3, short: int = 5, long: int = 0, archive: int = 0, **fields: Any
) -> EngineOptions:
    """Options with small tier capacities (0 = unbounded) and otherwise defaults."""
    tiers = (TierOptions(working), TierOptions(short), TierOptions(long), TierOptions(archive))
    return EngineOptions(tiers=tiers, **fields)


def tier_of(eng: memd.Engine, key: str, ns: str = NS) -> int | None:
    """The tier of ``key`` without counting an access (None when absent)."""
    m = eng.get_many(ns, [key], count_access=False)[0]
    return None if m is None else m.tier


def tiers_of(eng: memd.Engine, keys: list[str], ns: str = NS) -> dict[str, int | None]:
    """``tier_of`` for several keys at once."""
    found = eng.get_many(ns, keys, count_access=False)
    return {k: (None if m is None else m.tier) for k, m in zip(keys, found, strict=True)}


def list_all(eng: memd.Engine, ns: str = NS, **kwargs: Any) -> list[memd._core.Memory]:
    """Every live memory through ``list`` pagination."""
    items: list[memd._core.Memory] = []
    cursor = ""
    while True:
        page = eng.list(ns, cursor=cursor, limit=7, **kwargs)
        items.extend(page.items)
        if not page.next_cursor:
            return items
        assert page.items, "a page with a cursor must not be empty"
        cursor = page.next_cursor


def tier_counts(eng: memd.Engine, ns: str = NS) -> list[int]:
    """Stats counts of WORKING..ARCHIVE."""
    (stats,) = eng.stats(ns)
    return [t.count for t in stats.tiers]


def counter(eng: memd.Engine, name: str, ns: str = NS) -> int:
    """A stats counter summed over the four tiers."""
    (stats,) = eng.stats(ns)
    return sum(t.counters[name] for t in stats.tiers)


def disk_tiers(dump: dict[str, Any], ns: str = NS) -> dict[str, int]:
    """key -> tier as the witness read it from disk."""
    return {k: rec["tier"] for k, rec in dump["memories"].get(ns, {}).items()}


def settle(eng: memd.Engine) -> None:
    """Wait for housekeeping a read hands to the writer (lazy-expiry removal).

    A read returns without waiting for the write it triggers; any synchronous write
    call queues behind it, so its return means that work is committed and counted.
    """
    eng.flush()
