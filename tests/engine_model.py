"""A naive, pure-Python model of one namespace of memd's tiered store.

It is what the spec says, written as plainly as possible, for the stateful property
test to compare the engine with. Policies (from ``memd/types.py``, ``_core.pyi`` and
the issue):

- A put stores the memory in ``tier`` (or keeps an existing one's tier, or uses the
  default tier) and touches it (``last_access = now``). An expired memory is gone: a
  put over it starts again at version 1.
- Eviction: while a tier holds more than its capacity, its victim, the smallest
  ``(priority, last_access, retention score, key)``, is demoted one tier; leaving
  ARCHIVE deletes. Batches are applied item by item.
- TTL: a memory with ``expires_at <= now`` is never returned. A read that meets one
  removes it (lazy expiry), and so does a delete, which reports False for it; a
  sweep removes up to ``max`` of them, earliest expiry (then key) first. Until then
  an expired record still takes its place in its tier (and can be demoted).
- Promotion: a counted read records its time; when a memory below WORKING has
  ``min_reads`` reads within the window (``t + window > now``), or importance above
  the threshold, it moves one tier up (which may demote that tier's LRU), and its
  read history starts over. A put also starts it over; a demotion keeps it. Reads in
  one ``get_many`` see one snapshot: hits are recorded first, then promotions are
  applied in order, skipping a memory no longer in the tier it was read from.
- Read histories and counters live in memory: a reopen clears them. Everything else
  survives.

The spec leaves some of this open (when a read history starts over; whether one
``get_many`` is one snapshot); those rules follow the engine's documented choices,
which are reasonable, so that the model pins them down rather than guesses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

TIERS = (1, 2, 3, 4)


@dataclass
class Rec:
    tier: int
    priority: int
    importance: float
    value: bytes
    version: int
    created_ms: int
    last_access_ms: int
    expires_at_ms: int
    access_count: int = 0
    reads: list[int] = field(default_factory=list)

    def expired(self, now_ms: int) -> bool:
        return self.expires_at_ms != 0 and self.expires_at_ms <= now_ms

    def retention(self, now_ms: int) -> float:
        """docs/lifecycle.md's retention score (importance as the stored float32)."""
        importance = struct.unpack("<f", struct.pack("<f", self.importance))[0]
        idle_h = max(now_ms - self.last_access_ms, 0) / 3_600_000
        age_h = max(now_ms - self.created_ms, 0) / 3_600_000
        recency = 0.3 / (1.0 + idle_h / 24.0)
        frequency = min(0.2 * self.access_count / max(age_h, 1.0), 0.3)
        return float(importance) + recency + frequency


@dataclass
class Counters:
    misses: int = 0
    promoted: int = 0
    swept: int = 0
    demoted: dict[int, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))
    evicted: int = 0


class Model:
    def __init__(
        self,
        capacities: tuple[int, int, int, int],
        default_ttls: tuple[int, int, int, int],
        default_tier: int,
        min_reads: int,
        window_ms: int,
        promote_importance: float,
    ) -> None:
        self.capacities = capacities
        self.default_ttls = default_ttls
        self.default_tier = default_tier
        self.min_reads = min_reads
        self.window_ms = window_ms
        self.promote_importance = promote_importance
        self.recs: dict[str, Rec] = {}  # physically present, expired or not
        self.counters = Counters()
        self.namespace_exists = False

    # --- queries -------------------------------------------------------------------
    def live(self, now_ms: int) -> dict[str, Rec]:
        return {k: r for k, r in self.recs.items() if not r.expired(now_ms)}

    def count(self, tier: int) -> int:
        return sum(1 for r in self.recs.values() if r.tier == tier)

    # --- tier moves ----------------------------------------------------------------
    def _enforce(self, tier: int, now_ms: int) -> None:
        for t in range(tier, 5):
            cap = self.capacities[t - 1]
            while cap and self.count(t) > cap:
                victim = min(
                    (k for k, r in self.recs.items() if r.tier == t),
                    key=lambda k: (
                        self.recs[k].priority,
                        self.recs[k].last_access_ms,
                        self.recs[k].retention(now_ms),
                        k,
                    ),
                )
                if t == 4:
                    del self.recs[victim]
                    self.counters.evicted += 1
                else:
                    self.recs[victim].tier = t + 1
                    self.counters.demoted[t] += 1

    # --- operations ----------------------------------------------------------------
    def put(
        self,
        key: str,
        now_ms: int,
        *,
        value: bytes,
        priority: int,
        tier: int,
        ttl_ms: int | None,
        importance: float | None,
    ) -> int:
        """Apply one put; returns the new version."""
        self.namespace_exists = True
        old = self.recs.pop(key, None)
        if old is not None and old.expired(now_ms):
            old = None
        tier = tier or (old.tier if old else self.default_tier)
        ttl = self.default_ttls[tier - 1] if ttl_ms is None else ttl_ms
        if importance is None:
            importance = old.importance if old else 0.5
        version = old.version + 1 if old else 1
        self.recs[key] = Rec(
            tier=tier,
            priority=priority,
            importance=importance,
            value=value,
            version=version,
            created_ms=old.created_ms if old else now_ms,
            last_access_ms=now_ms,
            expires_at_ms=now_ms + ttl if ttl else 0,
            access_count=old.access_count if old else 0,
        )
        self._enforce(tier, now_ms)  # may push the new memory itself out of ARCHIVE
        return version

    def get_many(self, keys: list[str], now_ms: int) -> list[tuple[bytes, int] | None]:
        """Counted reads of distinct keys; returns (value, tier as reported) or None."""
        assert len(set(keys)) == len(keys)
        found: list[tuple[str, Rec] | None] = []
        for k in keys:
            rec = self.recs.get(k)
            if rec is not None and rec.expired(now_ms):
                del self.recs[k]  # lazy expiry
                rec = None
            if rec is None and self.namespace_exists:
                self.counters.misses += 1
            found.append((k, rec) if rec is not None else None)
        candidates = []
        for hit in found:
            if hit is None:
                continue
            k, rec = hit
            rec.last_access_ms = max(rec.last_access_ms, now_ms)
            rec.access_count += 1
            rec.reads = [t for t in rec.reads if t + self.window_ms > now_ms]
            if len(rec.reads) == self.min_reads:  # only the latest min_reads matter
                rec.reads.pop(0)
            rec.reads.append(now_ms)
            if rec.tier > 1 and (
                rec.importance > self.promote_importance or len(rec.reads) >= self.min_reads
            ):
                candidates.append((k, rec.tier))
        reported = {k: rec.tier for k, rec in filter(None, found)}
        for k, from_tier in candidates:
            rec = self.recs.get(k)
            if rec is None or rec.tier != from_tier:
                continue
            rec.tier = from_tier - 1
            rec.reads = []
            self.counters.promoted += 1
            self._enforce(rec.tier, now_ms)
            reported[k] = self.recs[k].tier
        return [(hit[1].value, reported[hit[0]]) if hit else None for hit in found]

    def delete(self, key: str, now_ms: int) -> bool:
        """True only for a live memory; an expired one is already gone (and removed)."""
        rec = self.recs.pop(key, None)
        return rec is not None and not rec.expired(now_ms)

    def sweep(self, now_ms: int, max_items: int) -> tuple[int, bool]:
        expired = sorted((r.expires_at_ms, k) for k, r in self.recs.items() if r.expired(now_ms))
        for _, k in expired[:max_items]:
            del self.recs[k]
        self.counters.swept += len(expired[:max_items])
        return len(expired[:max_items]), len(expired) > max_items

    def reopen(self) -> None:
        for rec in self.recs.values():
            rec.reads = []
        self.counters = Counters()
