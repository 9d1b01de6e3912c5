"""Stateful property test: the engine against the plain model in ``tests/engine_model.py``.

Random sequences of puts, reads, deletes, clock moves, sweeps and reopens run against
a real engine (small tiers, fake clock) and the model; after every step every live
key's presence, tier, version and value, and each tier's count and counters, must
agree. The clock moves at least 1 ms per operation so LRU ties are rare (and then
broken by key in both).
"""

from __future__ import annotations

import shutil
import tempfile

import hypothesis.strategies as st
import pytest
from engine_helpers import NS, FakeClock, list_all
from engine_model import Model
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import memd
from memd import EngineOptions, NewMemory, TierOptions

KEYS = [f"k{i:02d}" for i in range(16)]  # more keys than the tiers hold (2+3+2+3)
PRIORITY = {k: (0, 0, 1, -1, 0)[i % 5] for i, k in enumerate(KEYS)}  # fixed per key
CAPACITIES = (2, 3, 2, 3)
DEFAULT_TTLS = (0, 3_000, 0, 0)
WINDOW_MS = 100_000  # small steps never add up to it; `advance_past_window` jumps over
OPTIONS = EngineOptions(
    durability="nosync",
    tiers=tuple(TierOptions(c, t) for c, t in zip(CAPACITIES, DEFAULT_TTLS, strict=True)),
    promote_window_ms=WINDOW_MS,
)

items = st.tuples(
    st.sampled_from(KEYS),
    st.sampled_from([0, 0, 1, 2, 3, 4]),  # tier (0: keep / default)
    st.sampled_from([None, 0, 0, 20, 100, 1_000]),  # ttl_ms (None: tier default)
    st.sampled_from([None, 0.2, 0.5, 0.95]),  # importance
)


class EngineVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="memd-model-")
        self.clock = FakeClock()
        self.engine = memd.Engine(self.dir, OPTIONS, clock=self.clock)
        self.model = Model(
            CAPACITIES,
            DEFAULT_TTLS,
            default_tier=OPTIONS.default_tier,
            min_reads=OPTIONS.promote_min_reads,
            window_ms=WINDOW_MS,
            promote_importance=OPTIONS.promote_importance,
        )
        self.seq = 0
        self.housekeeping_pending = False

    def teardown(self) -> None:
        self.engine.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _tick(self) -> int:
        return self.clock.advance(1)

    @initialize(batch=st.lists(items, min_size=4, max_size=14))
    def fill(self, batch):
        self.put(batch)

    @rule(batch=st.lists(items, min_size=1, max_size=4))
    def put(self, batch):
        now = self._tick()
        news, expected = [], []
        for key, tier, ttl_ms, importance in batch:
            self.seq += 1
            fields = {"priority": PRIORITY[key], "tier": tier, "ttl_ms": ttl_ms}
            value = f"{key}:{self.seq}".encode()
            news.append(NewMemory(key=key, value=value, importance=importance, **fields))
            version = self.model.put(key, now, value=value, importance=importance, **fields)
            expected.append((key, version))
        results = self.engine.put_many(NS, news)
        assert [(r.key, r.version) for r in results] == expected
        final = [self.model.recs[k].tier if k in self.model.recs else 0 for k, _ in expected]
        assert [r.tier for r in results] == final

    def _read(self, keys):
        now = self._tick()
        if any(k in self.model.recs and self.model.recs[k].expired(now) for k in keys):
            self.housekeeping_pending = True  # lazy expiry is removed by the writer
        expected = self.model.get_many(keys, now)
        got = self.engine.get_many(NS, keys)
        assert [(m.value, m.tier) if m else None for m in got] == expected

    @rule(key=st.sampled_from(KEYS))
    def get(self, key):
        self._read([key])

    @rule(key=st.sampled_from(KEYS[:4]), times=st.integers(2, 4))
    def get_repeatedly(self, key, times):  # drives frequency promotion
        for _ in range(times):
            self._read([key])

    @rule(keys=st.lists(st.sampled_from(KEYS), min_size=2, max_size=5, unique=True))
    def get_many(self, keys):
        self._read(keys)

    @rule(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
    def delete(self, keys):
        now = self._tick()
        expected = [self.model.delete(k, now) for k in keys]
        assert self.engine.delete_many(NS, keys) == expected

    @rule(ms=st.integers(1, 60))
    def advance(self, ms):
        self.clock.advance(ms)

    @rule()
    def advance_past_window(self):
        self.clock.advance(2 * WINDOW_MS)

    @rule(max_items=st.integers(1, 4))
    def sweep(self, max_items):
        now = self._tick()
        expected = self.model.sweep(now, max_items)
        result = self.engine.sweep(max_items)
        assert (result.expired, result.more) == expected

    @rule()
    def reopen(self):
        self.engine.close()
        self.engine = memd.Engine(self.dir, OPTIONS, clock=self.clock)
        self.model.reopen()
        self.housekeeping_pending = False

    @rule()
    def flush_then_compare_access_statistics(self):
        self.engine.flush()
        live = self.model.live(self.clock())
        got = self.engine.get_many(NS, sorted(live), count_access=False)
        assert {m.key: (m.access_count, m.last_access_ms) for m in got} == {
            k: (r.access_count, r.last_access_ms) for k, r in live.items()
        }

    @invariant()
    def engine_agrees_with_model(self):
        if self.housekeeping_pending:
            self.engine.flush()  # queues behind the lazy-expiry removal
            self.housekeeping_pending = False
        m = self.model
        live = m.live(self.clock())
        listed = {mem.key: mem for mem in list_all(self.engine)}
        assert sorted(listed) == sorted(live)
        for k, mem in listed.items():
            r = live[k]
            assert (mem.tier, mem.version, mem.value, mem.priority) == (
                r.tier, r.version, r.value, r.priority,
            ), k  # fmt: skip
            assert (mem.created_ms, mem.expires_at_ms) == (r.created_ms, r.expires_at_ms), k
        stats = self.engine.stats(NS)
        if not m.namespace_exists:
            assert stats == []
            return
        (st_,) = stats
        assert [t.count for t in st_.tiers] == [m.count(t) for t in (1, 2, 3, 4)]
        counters = [t.counters for t in st_.tiers]
        assert st_.misses == m.counters.misses
        demoted = [m.counters.demoted[t] for t in (1, 2, 3, 4)]
        assert [c["demoted.capacity"] for c in counters] == demoted
        assert counters[3]["evicted.capacity"] == m.counters.evicted
        assert sum(c["evicted.capacity"] for c in counters) == m.counters.evicted
        promoted = sum(c["promoted.frequency"] + c["promoted.importance"] for c in counters)
        assert promoted == m.counters.promoted
        assert sum(c["expired.sweep"] for c in counters) == m.counters.swept


EngineVsModel.TestCase.settings = settings(stateful_step_count=80)
TestEngineVsModel = EngineVsModel.TestCase
# Passing runs take seconds; a failing one replays hundreds of engines while shrinking,
# which hypothesis itself caps at 5 minutes: let it finish and print the minimal case.
TestEngineVsModel.pytestmark = [pytest.mark.timeout(900)]
