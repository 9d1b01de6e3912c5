"""A simulated month and a half of agent activity on a fake clock, then a year's jump.

Every six hours the agent stores a handful of memories (mixed importance, some in
categories with a retention, some repeating an earlier text), reads its favourites,
and the daemon's jobs run: a lifecycle pass (policies, then consolidation) and a TTL
sweep. The test keeps its own ledger of everything acknowledged and checks the flows
between tiers that the configuration promises, and that nothing disappears except by
a rule that says so (a category's retention, or a policy's reported delete).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import memd
from memd.config_tables import DEFAULT_POLICIES
from memd.types import CategoryOptions, EngineOptions, LifecycleOptions, NewMemory, Tier
from tests.engine_helpers import NS, FakeClock, list_all, small_tiers

HOUR = 3_600_000
DAY = 24 * HOUR
CATEGORIES = (
    CategoryOptions(name="opportunities", retention_ms=3 * DAY, importance=0.5),
    CategoryOptions(name="patterns", importance=1.0),
)
IMPORTANCE = (0.1, 0.2, 0.5, 0.75, 0.9, None)


def options() -> EngineOptions:
    lifecycle = LifecycleOptions(policies=DEFAULT_POLICIES, categories=CATEGORIES, dedup_exact=True)
    return small_tiers(50, 500, 0, 0, lifecycle=lifecycle)


def action_tuples(report: memd._core.LifecycleReport) -> list[tuple[str, str, str, int, int]]:
    return [(a.key, a.rule, a.action, a.from_tier, a.to_tier) for a in report.actions]


class Agent:
    """Drives the engine and keeps the ledger the assertions check against."""

    def __init__(self, eng: memd.Engine, clock: FakeClock, seed: int = 7) -> None:
        self.eng, self.clock, self.rng = eng, clock, random.Random(seed)
        self.texts: list[str] = []
        # key -> (created, category, importance asked for)
        self.acked: dict[str, tuple[int, str | None, float | None]] = {}
        self.merged = 0
        self.favourites: list[str] = []
        self.actions: list[memd._core.LifecycleAction] = []

    def store_some(self, n: int) -> None:
        items = []
        for _ in range(n):
            if self.texts and self.rng.random() < 0.1:
                text = self.rng.choice(self.texts)  # a repeat: dedup must merge it
            else:
                text = f"observation {len(self.texts)} at {self.clock.now_ms}"
                self.texts.append(text)
            category = self.rng.choice((None, None, "opportunities", "patterns"))
            metadata = {"category": category} if category else {}
            importance = self.rng.choice(IMPORTANCE)
            items.append(NewMemory(text=text, importance=importance, metadata=metadata))
        for item, r in zip(items, self.eng.put_many(NS, items), strict=True):
            if r.merged_into:
                assert r.key == r.merged_into
                self.merged += 1
            else:
                category = item.metadata.get("category")
                self.acked[r.key] = (self.clock.now_ms, category, item.importance)
                if len(self.favourites) < 5 and self.rng.random() < 0.05:
                    self.favourites.append(r.key)

    def run_jobs(self, compare_dry_run: bool) -> None:
        if compare_dry_run:
            dry = self.eng.lifecycle(dry_run=True)
            real = self.eng.lifecycle()
            # The dry run reports exactly what the real run then does.
            assert action_tuples(dry) == action_tuples(real)
            assert (real.skipped, real.more) == (0, False)
        else:
            real = self.eng.lifecycle()
        self.actions.extend(real.actions)
        while self.eng.sweep(10_000).more:
            pass

    def live(self) -> dict[str, memd._core.Memory]:
        return {m.key: m for m in list_all(self.eng)}


def simulate(make_engine: Callable[..., memd.Engine], clock: FakeClock, days: int) -> Agent:
    agent = Agent(make_engine(options()), clock)
    for step in range(days * 4):
        agent.store_some(12)
        if agent.favourites:
            agent.eng.get_many(NS, agent.favourites)
        agent.run_jobs(compare_dry_run=step % 5 == 0)
        clock.advance(6 * HOUR)
    agent.run_jobs(compare_dry_run=True)
    return agent


def test_a_month_of_activity_flows_between_tiers_as_configured(make_engine, clock):
    agent = simulate(make_engine, clock, days=45)
    now, live = clock.now_ms, agent.live()
    by_rule = Counter((a.rule, a.action) for a in agent.actions)

    # Consolidation: important or often-used SHORT_TERM memories went to LONG_TERM,
    # and none that qualifies is left behind.
    assert by_rule["consolidate", "consolidate"] > 0
    for m in live.values():
        if m.tier == Tier.SHORT_TERM:
            assert m.importance < 0.7 and m.access_count < 3, m
    # Archive policy: no low-importance memory idle for 30 days outside ARCHIVE, and the
    # first weeks' ones were archived.
    assert by_rule["archive_old_low_importance", "archive"] > 0
    for m in live.values():
        if m.tier != Tier.ARCHIVE and m.importance < 0.3:
            assert now - m.last_access_ms < 30 * DAY, m
    # Refresh policy: every very important memory has been used (or refreshed) lately.
    assert by_rule["refresh_important", "refresh"] > 0
    for m in live.values():
        if m.importance > 0.8:
            assert now - m.last_access_ms < 7 * DAY, m
    # Categories: default importance applied, and retention enforced as a TTL.
    for key, m in live.items():
        created, category, asked = agent.acked[key]
        if category == "patterns":
            assert m.expires_at_ms == 0
            assert m.importance == (1.0 if asked is None else m.importance)
        if category == "opportunities":
            assert m.expires_at_ms == created + 3 * DAY
        # A merge may raise importance (max), never lower it.
        assert m.importance >= (asked if asked is not None else 0.5) - 1e-6
    # Dedup: repeats merged, so no two live memories share a text.
    assert agent.merged > 0
    assert len({m.text for m in live.values()}) == len(live)
    # Stats counted every action by reason, in the tier it left.
    (stats,) = agent.eng.stats(NS)
    total = Counter[str]()
    for t in stats.tiers:
        total.update(t.counters)
    assert total["consolidated"] == by_rule["consolidate", "consolidate"]
    assert total["policy.archived"] == by_rule["archive_old_low_importance", "archive"]
    assert total["policy.refreshed"] == by_rule["refresh_important", "refresh"]
    assert total["dedup.merged"] == agent.merged
    # Steady state: right after a pass, a dry run finds nothing to do.
    assert agent.eng.lifecycle(dry_run=True).actions == []
    assert_nothing_lost(agent)


def test_a_year_later_ancient_archives_are_deleted_and_reported(make_engine, clock):
    agent = simulate(make_engine, clock, days=10)
    clock.advance(366 * DAY)
    agent.run_jobs(compare_dry_run=True)  # archives what has gone idle...
    agent.run_jobs(compare_dry_run=True)  # ...and deletes archives older than a year
    deleted = [a for a in agent.actions if a.action == "delete"]
    assert deleted and all(a.rule == "delete_ancient_archives" for a in deleted)
    assert all(a.from_tier == Tier.ARCHIVE and a.to_tier == 0 for a in deleted)
    live = agent.live()
    assert not any(m.tier == Tier.ARCHIVE for m in live.values())
    # What survives a year: important memories with no retention, kept fresh.
    assert live and all(m.importance >= 0.3 for m in live.values())
    assert_nothing_lost(agent)


def assert_nothing_lost(agent: Agent) -> None:
    """Every acknowledged memory is live, or gone by its category's retention, or by a
    delete a policy reported: nothing else may take one."""
    now, live = agent.clock.now_ms, agent.live()
    deleted = {a.key for a in agent.actions if a.action == "delete"}
    retention = {c.name: c.retention_ms for c in CATEGORIES}
    for key, (created, category, _) in agent.acked.items():
        if key in live:
            continue
        ttl = retention.get(category or "", 0)
        expired = ttl > 0 and created + ttl <= now
        assert expired or key in deleted, f"{key} ({category}) vanished"
