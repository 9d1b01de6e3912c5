"""The memory lifecycle through the daemon: RunLifecycle, the scheduler, dedup, stats,
metrics and the lifecycle configuration (docs/lifecycle.md).

Time-based policies use tiny durations (``min_age_ms = 1``) and short real sleeps: the
daemon's clock is the wall clock. The month-long simulation with a controlled clock is
an engine test (tests/unit/test_lifecycle_month.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from daemon_launcher import wait_for

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import REPO, Daemon, StartDaemon, clean_env, sample

Code = grpc.StatusCode
SHORT, LONG, ARCHIVE = mpb.TIER_SHORT_TERM, mpb.TIER_LONG_TERM, mpb.TIER_ARCHIVE
EXAMPLE = REPO / "docs" / "examples" / "lifecycle.toml"
# No background lifecycle runs unless a test asks for them: RPC results stay exact.
QUIET = ("--lifecycle-interval-s", "0", "--lifecycle-capacity-check-s", "0")

POLICIES_TOML = """
[[lifecycle.policies]]
name = "archive_unimportant"
action = "archive"
tiers = ["short_term"]
min_idle_ms = 1
importance_below = 0.3

[[lifecycle.policies]]
name = "forget_noise"
action = "delete"
categories = ["noise"]
min_age = "1ms"
"""


def store(d: Daemon, ns: str, *items: mpb.NewMemory) -> pb.StoreResponse:
    reply = d.stub.Store(pb.StoreRequest(namespace=ns, memories=items))
    assert not reply.errors, reply.errors
    return reply


def peek(d: Daemon, ns: str, *keys: str) -> dict[str, mpb.Memory | None]:
    """Memories by key (None when missing), without counting an access."""
    results = d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=keys, peek=True)).results
    return {r.key: r.memory if r.found else None for r in results}


def tiers_of(d: Daemon, ns: str, *keys: str) -> dict[str, int]:
    return {k: m.tier if m is not None else 0 for k, m in peek(d, ns, *keys).items()}


def lifecycle(d: Daemon, **fields: Any) -> pb.RunLifecycleResponse:
    reply: pb.RunLifecycleResponse = d.stub.RunLifecycle(pb.RunLifecycleRequest(**fields))
    return reply


def plan(reply: pb.RunLifecycleResponse) -> list[tuple[str, str, str, str, int, int]]:
    """The actions without their retention score (which moves with the clock)."""
    return [(a.namespace, a.key, a.rule, a.action, a.from_tier, a.to_tier) for a in reply.actions]


def tier_stats(d: Daemon, ns: str, tier: int) -> mpb.TierStats:
    [stats] = d.stub.Stats(pb.StatsRequest(namespace=ns)).namespaces
    return next(t for t in stats.tiers if t.tier == tier)


@pytest.fixture
def policies_daemon(start_daemon: StartDaemon, tmp_path: Path) -> Daemon:
    config = tmp_path / "policies.toml"
    config.write_text(POLICIES_TOML)
    return start_daemon("--config", str(config), *QUIET)


def test_dry_run_reports_what_the_real_run_then_does(policies_daemon: Daemon, ns: str) -> None:
    d = policies_daemon
    store(
        d,
        ns,
        mpb.NewMemory(key="dull", text="the weather was grey", importance=0.1),
        mpb.NewMemory(key="kept", text="the user's name is Ada", importance=0.6),
        mpb.NewMemory(key="spam", text="buy now", metadata={"category": "noise"}),
    )
    time.sleep(0.05)  # past min_idle_ms / min_age

    dry = lifecycle(d, namespace=ns, dry_run=True)
    assert dry.dry_run and not dry.more and dry.skipped == 0
    assert dry.scanned == 3
    expected = [
        (ns, "dull", "archive_unimportant", "archive", SHORT, ARCHIVE),
        (ns, "spam", "forget_noise", "delete", SHORT, mpb.TIER_UNSPECIFIED),
    ]
    assert plan(dry) == expected
    assert tiers_of(d, ns, "dull", "kept", "spam") == {"dull": SHORT, "kept": SHORT, "spam": SHORT}

    real = lifecycle(d, namespace=ns)
    assert not real.dry_run and real.skipped == 0
    assert plan(real) == expected
    assert {(c.rule, c.action, c.count) for c in real.counts} == {
        ("archive_unimportant", "archive", 1),
        ("forget_noise", "delete", 1),
    }
    assert tiers_of(d, ns, "dull", "kept", "spam") == {"dull": ARCHIVE, "kept": SHORT, "spam": 0}
    # Nothing is lost except by a policy that says so; a second pass has nothing to do.
    assert plan(lifecycle(d, namespace=ns, dry_run=True)) == []

    stats = {t.tier: t for t in d.stub.Stats(pb.StatsRequest(namespace=ns)).namespaces[0].tiers}
    assert stats[SHORT].counters["policy.archived"] == 1
    assert stats[SHORT].counters["policy.deleted"] == 1
    m = d.metrics()
    for rule, action in (("archive_unimportant", "archive"), ("forget_noise", "delete")):
        # The dry run is not counted, the real run is.
        assert sample(m, "memd_lifecycle_actions_total", rule=rule, action=action) == 1
    assert sample(m, "memd_lifecycle_runs_total", trigger="rpc", dry_run="true") == 2
    assert sample(m, "memd_lifecycle_runs_total", trigger="rpc", dry_run="false") == 1
    assert sample(m, "memd_policy_actions_total", tier="short_term", action="archived") == 1
    assert sample(m, "memd_lifecycle_pass_seconds_count", trigger="rpc") == 3


def test_jobs_and_max_actions_bound_a_run(policies_daemon: Daemon, ns: str) -> None:
    d = policies_daemon
    store(d, ns, *[mpb.NewMemory(key=f"d{i}", text=f"dull {i}", importance=0.1) for i in range(5)])
    store(d, ns, mpb.NewMemory(key="vip", text="important", importance=0.95))
    time.sleep(0.05)
    only_consolidate = lifecycle(d, namespace=ns, jobs=[pb.LIFECYCLE_JOB_CONSOLIDATE])
    assert plan(only_consolidate) == [(ns, "vip", "consolidate", "consolidate", SHORT, LONG)]
    first = lifecycle(d, namespace=ns, jobs=[pb.LIFECYCLE_JOB_POLICIES], max_actions=3)
    assert len(first.actions) == 3 and first.more
    rest = lifecycle(d, namespace=ns, jobs=[pb.LIFECYCLE_JOB_POLICIES], max_actions=3)
    assert len(rest.actions) == 2 and not rest.more
    archived = {a.key for a in [*first.actions, *rest.actions]}
    assert archived == {f"d{i}" for i in range(5)}


def test_consolidation_on_demand_moves_important_short_term_memories(
    start_daemon: StartDaemon, ns: str
) -> None:
    # Reads must not promote here: only consolidation moves memories in this test.
    d = start_daemon(*QUIET, "--engine-promote-min-reads", "1000")
    store(
        d,
        ns,
        mpb.NewMemory(key="vital", text="the user is allergic to nuts", importance=0.9),
        mpb.NewMemory(key="used", text="the office is on floor 3", importance=0.2),
        mpb.NewMemory(key="idle", text="it rained on Monday", importance=0.2),
    )
    for _ in range(3):  # three counted reads: access_count reaches the threshold (3)
        d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=["used"]))
    reply = lifecycle(d, namespace=ns, jobs=[pb.LIFECYCLE_JOB_CONSOLIDATE])
    assert sorted(plan(reply)) == [
        (ns, "used", "consolidate", "consolidate", SHORT, LONG),
        (ns, "vital", "consolidate", "consolidate", SHORT, LONG),
    ]
    assert tiers_of(d, ns, "vital", "used", "idle") == {"vital": LONG, "used": LONG, "idle": SHORT}
    assert tier_stats(d, ns, SHORT).counters["consolidated"] == 2
    m = d.metrics()
    assert sample(m, "memd_lifecycle_actions_total", rule="consolidate", action="consolidate") == 2
    assert sample(m, "memd_consolidated_total", tier="short_term") == 2


def test_capacity_threshold_consolidates_without_an_rpc(start_daemon: StartDaemon) -> None:
    d = start_daemon(
        "--tiers-short-term-capacity",
        "10",
        "--lifecycle-capacity-check-s",
        "0.1",
        "--lifecycle-consolidate-at",
        "0.8",
        "--lifecycle-interval-s",
        "0",
    )
    # "below" holds an important memory too, but its SHORT_TERM is under 80 % full.
    store(
        d, "below", *[mpb.NewMemory(key=f"b{i}", text=f"b {i}", importance=0.9) for i in range(3)]
    )
    items = [
        mpb.NewMemory(key=f"m{i}", text=f"memory {i}", importance=0.9 if i < 3 else 0.1)
        for i in range(8)
    ]
    store(d, "full", *items)

    wait_for(
        "the capacity trigger",
        lambda: set(tiers_of(d, "full", "m0", "m1", "m2").values()) == {LONG},
    )
    assert set(tiers_of(d, "full", *[f"m{i}" for i in range(3, 8)]).values()) == {SHORT}
    assert set(tiers_of(d, "below", "b0", "b1", "b2").values()) == {SHORT}
    run = d.wait_event("job run")
    assert run["job"] == "consolidate_on_capacity"
    assert run["actions"] == {"consolidate/consolidate": 3}
    assert run["namespaces"] == {"full": 3}
    m = d.metrics()
    assert sample(m, "memd_lifecycle_runs_total", trigger="capacity", dry_run="false") >= 1
    assert sample(m, "memd_lifecycle_actions_total", rule="consolidate", action="consolidate") == 3


def test_scheduled_pass_applies_the_policies(start_daemon: StartDaemon, tmp_path: Path) -> None:
    config = tmp_path / "policies.toml"
    config.write_text(POLICIES_TOML)
    d = start_daemon(
        "--config",
        str(config),
        "--lifecycle-interval-s",
        "0.2",
        "--lifecycle-capacity-check-s",
        "0",
    )
    store(d, "n", mpb.NewMemory(key="spam", text="win a prize", metadata={"category": "noise"}))
    store(d, "n", mpb.NewMemory(key="ham", text="meeting at noon", importance=0.5))
    wait_for("the scheduled pass", lambda: peek(d, "n", "spam")["spam"] is None)
    assert tiers_of(d, "n", "ham") == {"ham": SHORT}
    # The pass logs after its commit: the deletion can be seen before the log line.
    wait_for(
        "the pass's log line",
        lambda: any(e.get("event") == "job run" and e.get("job") == "lifecycle" for e in d.events),
    )
    run = next(e for e in d.events if e.get("event") == "job run" and e.get("job") == "lifecycle")
    assert run["actions"] == {"forget_noise/delete": 1}
    m = d.metrics()
    assert sample(m, "memd_lifecycle_actions_total", rule="forget_noise", action="delete") == 1
    assert sample(m, "memd_scheduler_runs_total", job="lifecycle", outcome="ok") >= 1


def test_identical_text_is_merged_into_the_existing_memory(
    start_daemon: StartDaemon, ns: str
) -> None:
    d = start_daemon(*QUIET)
    first = store(d, ns, mpb.NewMemory(key="tea", text="the user likes tea", tags=["a"]))
    assert list(first.merged_into) in ([], [""])
    again = store(
        d,
        ns,
        mpb.NewMemory(text="the user likes tea", tags=["b"], importance=0.9),
        mpb.NewMemory(text="the user likes coffee"),
    )
    assert again.keys[0] == "tea" and again.merged_into[0] == "tea"
    assert again.versions[0] == 2
    assert again.merged_into[1] == "" and again.keys[1] != "tea"
    assert tier_stats(d, ns, SHORT).count == 2
    tea = peek(d, ns, "tea")["tea"]
    assert tea is not None
    assert tea.importance == pytest.approx(0.9)  # the max of 0.5 and 0.9
    assert sorted(tea.tags) == ["a", "b"]
    assert tier_stats(d, ns, SHORT).counters["dedup.merged"] == 1
    assert sample(d.metrics(), "memd_dedup_total", tier="short_term", outcome="merged") == 1


def test_dedup_can_be_turned_off(start_daemon: StartDaemon, ns: str) -> None:
    d = start_daemon(*QUIET, "--dedup-exact", "false")
    store(d, ns, mpb.NewMemory(text="same"), mpb.NewMemory(text="same"))
    reply = store(d, ns, mpb.NewMemory(text="same"))
    assert list(reply.merged_into) in ([], [""])
    assert tier_stats(d, ns, SHORT).count == 3


def test_stats_and_metrics_show_compression_and_tier_summaries(
    start_daemon: StartDaemon, ns: str
) -> None:
    d = start_daemon(*QUIET)
    before = int(time.time() * 1000)
    value = b"the same sentence, over and over. " * 120  # 4 080 bytes, compressible
    store(
        d,
        ns,
        mpb.NewMemory(key="old", text="cold", value=value, importance=0.2, tier=ARCHIVE),
        mpb.NewMemory(key="small", text="tiny", value=b"x" * 10, importance=0.4, tier=ARCHIVE),
        mpb.NewMemory(key="hot", text="warm", value=value, importance=0.6),
    )
    after = int(time.time() * 1000)
    archive = tier_stats(d, ns, ARCHIVE)
    assert archive.count == 2 and archive.compressed == 1  # "small" is under min_bytes
    assert archive.value_bytes == len(value) + 10
    assert archive.stored_value_bytes < len(value) // 4
    assert archive.importance_avg == pytest.approx(0.3)
    assert before <= archive.created_avg_ms <= after
    short = tier_stats(d, ns, SHORT)
    assert short.compressed == 0 and short.value_bytes == short.stored_value_bytes == len(value)
    empty = tier_stats(d, ns, mpb.TIER_WORKING)
    assert (empty.importance_avg, empty.created_avg_ms, empty.value_bytes) == (0, 0, 0)
    # Values read back are the originals.
    old = peek(d, ns, "old")["old"]
    assert old is not None and old.value == value

    m = d.metrics()
    assert sample(m, "memd_value_bytes", tier="archive") == len(value) + 10
    assert sample(m, "memd_stored_value_bytes", tier="archive") == archive.stored_value_bytes
    assert sample(m, "memd_compressed_memories", tier="archive") == 1
    assert sample(m, "memd_compression_ratio", tier="archive") > 4
    assert sample(m, "memd_compression_ratio", tier="working") == 1


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        pytest.param({"max_actions": 100_001}, Code.INVALID_ARGUMENT, id="max-actions"),
        pytest.param({"jobs": [pb.LIFECYCLE_JOB_UNSPECIFIED]}, Code.INVALID_ARGUMENT, id="job-0"),
        pytest.param({"jobs": [7]}, Code.INVALID_ARGUMENT, id="unknown-job"),
        pytest.param({"namespace": "n" * 5000}, Code.INVALID_ARGUMENT, id="namespace-too-long"),
        pytest.param({"namespace": "a\x00b"}, Code.INVALID_ARGUMENT, id="namespace-nul"),
        pytest.param({"namespace": "nobody-here"}, Code.NOT_FOUND, id="unknown-namespace"),
    ],
)
def test_bad_run_lifecycle_requests_get_their_code(
    shared_daemon: Daemon, request_fields: dict[str, Any], code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        lifecycle(shared_daemon, **request_fields)
    assert info.value.code() == code, info.value.details()
    assert info.value.details()


def test_the_example_config_loads_and_its_categories_apply(
    start_daemon: StartDaemon, ns: str
) -> None:
    d = start_daemon("--config", str(EXAMPLE), *QUIET)
    store(
        d,
        ns,
        mpb.NewMemory(key="t", text="bought 2 ETH", metadata={"category": "trades"}),
        mpb.NewMemory(key="p", text="prefers dark mode", metadata={"category": "user_preferences"}),
        mpb.NewMemory(key="x", text="uncategorised"),
    )
    got = peek(d, ns, "t", "p", "x")
    trade, pref, plain = got["t"], got["p"], got["x"]
    assert trade is not None and pref is not None and plain is not None
    assert trade.importance == pytest.approx(0.9)
    assert trade.expires_at_ms == trade.created_ms + 30 * 86_400_000
    assert pref.importance == pytest.approx(1.0) and pref.expires_at_ms == 0
    assert plain.importance == pytest.approx(0.5) and plain.expires_at_ms == 0


def print_config(*flags: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "memd", "serve", "--print-config", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_example_config_resolves_to_the_documented_options() -> None:
    import json

    code, out, err = print_config("--config", str(EXAMPLE))
    assert code == 0, err
    lc = json.loads(out)["engine"]["lifecycle"]
    assert [p["name"] for p in lc["policies"]] == [
        "archive_old_low_importance",
        "delete_ancient_archives",
        "refresh_important",
    ]
    assert lc["policies"][0]["min_idle_ms"] == 30 * 86_400_000
    assert lc["policies"][0]["tiers"] == [1, 2, 3]
    categories = {c["name"]: c for c in lc["categories"]}
    assert categories["trades"] == {
        "name": "trades",
        "retention_ms": 30 * 86_400_000,
        "importance": 0.9,
    }
    assert categories["user_preferences"]["retention_ms"] == 0
    assert len(categories) == 6
    # The file restates the defaults: without it the policies are the same.
    code, out, err = print_config()
    assert code == 0, err
    default = json.loads(out)["engine"]["lifecycle"]
    assert default["policies"] == lc["policies"] and default["categories"] == []
    assert default["dedup_exact"] is True and default["dedup_near_threshold"] == 0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        pytest.param(
            '[[lifecycle.policies]]\nname = "p"\naction = "explode"\n',
            "lifecycle.policies[0] (p): action: expected one of archive, demote, delete, refresh",
            id="unknown-action",
        ),
        pytest.param(
            '[[lifecycle.policies]]\nname = "p"\naction = "archive"\ntiers = ["hot"]\n',
            "lifecycle.policies[0] (p): tiers: expected one of working, short_term",
            id="unknown-tier",
        ),
        pytest.param(
            '[[lifecycle.policies]]\nname = "p"\naction = "delete"\nmin_age_ms = -5\n',
            "min_age_ms: a duration cannot be negative",
            id="negative-duration",
        ),
        pytest.param(
            '[[lifecycle.policies]]\nname = "p"\naction = "delete"\nmin_age = "soon"\n',
            "min_age: expected a duration like",
            id="bad-duration",
        ),
        pytest.param(
            '[[lifecycle.policies]]\nname = "p"\naction = "delete"\ncolour = "red"\n',
            "lifecycle.policies[0]: unknown key 'colour'",
            id="unknown-policy-key",
        ),
        pytest.param(
            '[[lifecycle.policies]]\naction = "delete"\n',
            "'name' is required",
            id="no-name",
        ),
        pytest.param(
            '[[lifecycle.policies]]\nname = "p"\naction = "delete"\n'
            '[[lifecycle.policies]]\nname = "p"\naction = "archive"\n',
            "policy name 'p' is used twice",
            id="duplicate-name",
        ),
        pytest.param(
            "[lifecycle.categories.trades]\nretention_days = -3\n",
            "lifecycle.categories.trades: retention_days: expected days >= 0, or -1",
            id="negative-retention",
        ),
        pytest.param(
            "[lifecycle.categories.trades]\nimportance = 2\n",
            "importance: expected a number in [0, 1]",
            id="importance-range",
        ),
        pytest.param(
            "[lifecycle.categories.trades]\nretention = 30\n",
            "unknown key 'retention'",
            id="unknown-category-key",
        ),
        pytest.param(
            '[compression]\nfrom_tier = "freezer"\n',
            "compression.from_tier: expected one of working",
            id="compression-tier",
        ),
        pytest.param("[dedup]\nexact = 3\n", "dedup.exact: expected true or false", id="bool"),
        pytest.param(
            "[lifecycle]\nconsolidate_at = 1.5\n", "lifecycle.consolidate_at", id="threshold"
        ),
    ],
)
def test_bad_lifecycle_config_exits_2_with_a_clear_message(
    tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    code, _, err = print_config("--config", str(config))
    assert code == 2 and message in err, err
