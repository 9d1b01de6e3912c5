"""Each lifecycle rule on its own: consolidation, policy actions and conditions,
categories, the retention tie-break in eviction, compression, and bad input."""

from __future__ import annotations

import pytest

import memd
from memd import InvalidArgument, NotFound
from memd.types import CategoryOptions, LifecycleOptions, NewMemory, PolicyOptions, Tier
from tests.engine_helpers import NS, counter, small_tiers, tier_counts, tiers_of

DAY = 86_400_000


def with_lifecycle(*policies: PolicyOptions, **fields: object) -> memd.EngineOptions:
    lifecycle = LifecycleOptions(policies=policies, **fields)  # type: ignore[arg-type]
    # Reads here never promote, so only the lifecycle moves memories.
    return small_tiers(10, 10, 0, 0, lifecycle=lifecycle, promote_min_reads=1000)


def test_consolidation_moves_important_or_used_short_term_memories(make_engine, clock):
    eng = make_engine(with_lifecycle(consolidate_min_age_ms=DAY))
    eng.put_many(
        NS,
        [
            NewMemory(key="important", importance=0.7, value=b"v"),
            NewMemory(key="used", importance=0.1, value=b"v"),
            NewMemory(key="plain", importance=0.5, value=b"v"),
        ],
    )
    for _ in range(3):
        eng.get_many(NS, ["used"])
    assert eng.lifecycle().actions == []  # younger than consolidate_min_age_ms
    clock.advance(DAY)
    report = eng.lifecycle()
    assert sorted((a.key, a.rule, a.from_tier, a.to_tier) for a in report.actions) == [
        ("important", "consolidate", 2, 3),
        ("used", "consolidate", 2, 3),
    ]
    assert tiers_of(eng, ["important", "used", "plain"]) == {"important": 3, "used": 3, "plain": 2}
    assert counter(eng, "consolidated") == 2
    # Only the jobs asked for run.
    eng.put_many(NS, [NewMemory(key="late", importance=0.9, value=b"v")])
    clock.advance(DAY)
    assert eng.lifecycle(consolidate=False).actions == []


def test_policy_actions_and_conditions(make_engine, clock):
    policies = (
        PolicyOptions(name="drop_noise", action="delete", categories=("noise",)),
        PolicyOptions(name="cool_down", action="demote", tiers=(Tier.WORKING,), min_idle_ms=DAY),
        PolicyOptions(name="keep_fresh", action="refresh", importance_above=0.8),
        PolicyOptions(name="forget_unused", action="archive", access_count_below=1, min_age_ms=DAY),
    )
    eng = make_engine(with_lifecycle(*policies))
    eng.put_many(
        NS,
        [
            NewMemory(key="noise", metadata={"category": "noise"}, importance=0.9, value=b"v"),
            NewMemory(key="hot", tier=Tier.WORKING, value=b"v"),
            NewMemory(key="vip", importance=0.9, tier=Tier.LONG_TERM, value=b"v"),
            NewMemory(key="unused", tier=Tier.LONG_TERM, value=b"v"),
        ],
    )
    eng.get_many(NS, ["hot"])
    clock.advance(2 * DAY)
    report = eng.lifecycle(consolidate=False)
    assert {(a.key, a.rule, a.action, a.to_tier) for a in report.actions} == {
        ("noise", "drop_noise", "delete", 0),
        ("hot", "cool_down", "demote", 2),
        ("vip", "keep_fresh", "refresh", 3),
        ("unused", "forget_unused", "archive", 4),
    }
    assert report.counts == sorted((a.rule, a.action, 1) for a in report.actions)
    vip = eng.get_many(NS, ["vip"], count_access=False)[0]
    assert vip is not None and vip.last_access_ms == clock.now_ms and vip.access_count == 0
    assert tiers_of(eng, ["noise", "hot", "unused"]) == {"noise": None, "hot": 2, "unused": 4}
    for name in ("policy.deleted", "policy.demoted", "policy.refreshed", "policy.archived"):
        assert counter(eng, name) == 1
    # Applied actions are durable.
    eng.close()
    reopened = make_engine(with_lifecycle(*policies))
    assert tiers_of(reopened, ["hot", "unused", "vip"]) == {"hot": 2, "unused": 4, "vip": 3}


def test_max_actions_bounds_a_pass_and_more_says_so(make_engine):
    eng = make_engine(with_lifecycle(PolicyOptions(name="all", action="archive")))
    eng.put_many(NS, [NewMemory(key=f"k{i}", value=b"v") for i in range(7)])
    first = eng.lifecycle(max_actions=5)
    assert (len(first.actions), first.more) == (5, True)
    second = eng.lifecycle(max_actions=5)
    assert (len(second.actions), second.more) == (2, False)
    assert tier_counts(eng) == [0, 0, 0, 7]


def test_categories_set_default_importance_and_retention(make_engine, clock):
    categories = (CategoryOptions(name="trades", retention_ms=30 * DAY, importance=0.9),)
    eng = make_engine(with_lifecycle(categories=categories))
    trade = {"category": "trades"}
    eng.put_many(
        NS,
        [
            NewMemory(key="t", metadata=trade, value=b"v"),
            NewMemory(key="t-own", metadata=trade, importance=0.2, ttl_ms=DAY, value=b"v"),
            NewMemory(key="other", metadata={"category": "misc"}, value=b"v"),
        ],
    )
    t, own, other = eng.get_many(NS, ["t", "t-own", "other"], count_access=False)
    assert t and own and other
    assert (t.importance, t.expires_at_ms) == (pytest.approx(0.9), clock.now_ms + 30 * DAY)
    assert (own.importance, own.expires_at_ms) == (pytest.approx(0.2), clock.now_ms + DAY)
    assert (other.importance, other.expires_at_ms) == (0.5, 0)
    clock.advance(30 * DAY)
    assert eng.get_many(NS, ["t"]) == [None]


def test_eviction_breaks_lru_ties_by_retention_score(make_engine):
    eng = make_engine(small_tiers(2, 0, 0, 0))
    # One batch: all written in the same millisecond, so LRU alone cannot choose.
    eng.put_many(
        NS,
        [
            NewMemory(key=k, importance=i, tier=Tier.WORKING, value=b"v")
            for k, i in [("a", 0.9), ("b", 0.1), ("c", 0.5), ("d", 0.8)]
        ],
    )
    assert tiers_of(eng, ["a", "b", "c", "d"]) == {"a": 1, "b": 2, "c": 2, "d": 1}


def test_values_are_compressed_in_cold_tiers_above_the_threshold(make_engine, clock):
    eng = make_engine(with_lifecycle(compress_from_tier=Tier.LONG_TERM, compress_min_bytes=100))
    big, small = b"memory " * 200, b"tiny"
    eng.put_many(NS, [NewMemory(key="big", value=big), NewMemory(key="small", value=small)])
    (st,) = eng.stats(NS)
    assert st.tiers[1].compressed == 0 and st.tiers[1].value_bytes == len(big) + len(small)
    eng.put_many(NS, [NewMemory(key="big", value=big, tier=Tier.LONG_TERM)])
    eng.put_many(NS, [NewMemory(key="small", value=small, tier=Tier.LONG_TERM)])
    (st,) = eng.stats(NS)
    cold = st.tiers[2]
    assert (cold.count, cold.compressed, cold.value_bytes) == (2, 1, len(big) + len(small))
    assert cold.stored_value_bytes < cold.value_bytes / 10
    # Transparent on read, and a move back to a warm tier stores it raw again.
    assert [m.value for m in eng.get_many(NS, ["big", "small"]) if m] == [big, small]
    eng.put_many(NS, [NewMemory(key="big", value=big, tier=Tier.SHORT_TERM)])
    assert eng.stats(NS)[0].tiers[2].compressed == 0
    assert eng.get_many(NS, ["big"])[0].value == big  # type: ignore[union-attr]


def test_bad_lifecycle_input_is_rejected_and_changes_nothing(make_engine):
    eng = make_engine(with_lifecycle())
    eng.put_many(NS, [NewMemory(key="a", value=b"v")])
    with pytest.raises(InvalidArgument, match="max_actions"):
        eng.lifecycle(max_actions=0)
    with pytest.raises(NotFound):
        eng.lifecycle("no-such-namespace")
    with pytest.raises(InvalidArgument):
        eng.lifecycle("")
    assert tier_counts(eng) == [0, 1, 0, 0]
    for bad in (
        PolicyOptions(name="x", action="explode"),  # type: ignore[arg-type]
        PolicyOptions(name="consolidate", action="delete"),
        PolicyOptions(name="x", action="delete", importance_below=2.0),
        PolicyOptions(name="x", action="delete", tiers=(9,)),
    ):
        with pytest.raises(InvalidArgument):
            make_engine(with_lifecycle(bad), path=eng.path + "-bad")
    with pytest.raises(InvalidArgument, match="unique"):
        make_engine(
            with_lifecycle(
                PolicyOptions(name="x", action="delete"), PolicyOptions(name="x", action="refresh")
            ),
            path=eng.path + "-dup",
        )


def test_the_rust_encoded_reply_is_the_protobuf_of_the_report(make_engine, clock):
    """``encode_response`` (the RunLifecycle reply, built in Rust without the GIL) holds
    exactly what the report says, byte for byte what the generated classes write."""
    from memd._pb.v1 import memory_service_pb2 as pb

    policies = (
        PolicyOptions(name="drop_noise", action="delete", categories=("noise",)),
        PolicyOptions(name="keep_fresh", action="refresh", importance_above=0.8),
        PolicyOptions(name="forget_unused", action="archive", access_count_below=1, min_age_ms=DAY),
    )
    eng = make_engine(with_lifecycle(*policies))
    eng.put_many(
        "agent:é/42",
        [NewMemory(key=f"n{i}", metadata={"category": "noise"}, value=b"v") for i in range(3)]
        + [
            NewMemory(key=f"vip{i}", importance=0.9, tier=Tier.LONG_TERM, value=b"v")
            for i in range(2)
        ]
        + [NewMemory(key="k" * 200, tier=Tier.LONG_TERM, value=b"v")],
    )
    clock.advance(2 * DAY)
    for dry_run in (True, False):
        report = eng.lifecycle(consolidate=False, dry_run=dry_run)
        assert len(report.actions) == 6 and report.scanned == 6
        expected = pb.RunLifecycleResponse(
            actions=[
                pb.LifecycleAction(
                    namespace=a.namespace,
                    key=a.key,
                    rule=a.rule,
                    action=a.action,
                    from_tier=a.from_tier,  # type: ignore[arg-type]
                    to_tier=a.to_tier,  # type: ignore[arg-type]
                    retention=a.retention,
                )
                for a in report.actions
            ],
            scanned=report.scanned,
            skipped=report.skipped,
            more=report.more,
            demoted_by_capacity=report.demoted_by_capacity,
            counts=[pb.LifecycleCount(rule=r, action=a, count=n) for r, a, n in report.counts],
            dry_run=dry_run,
        )
        raw = report.encode_response(dry_run)
        assert pb.RunLifecycleResponse.FromString(raw) == expected
        assert raw == expected.SerializeToString()
        assert {a.to_tier for a in expected.actions} == {0, 3, 4}
