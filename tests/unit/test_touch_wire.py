"""Cluster mode's ``touch`` entry: the engine's payload is the ``memd.v1.TouchEntry`` of
proto/memd/v1/cluster_service.proto, both ways, and applying one is checked first."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import memd
from memd import InvalidArgument, NewMemory, Tier
from memd._pb.v1 import cluster_service_pb2 as cpb
from memd._pb.v1 import memory_pb2 as mpb
from tests.engine_helpers import FakeClock

NS = "agent:touch"


def _deferred(make_engine: Callable[..., memd.Engine], path: str) -> memd.Engine:
    eng = make_engine(path=path, deferred_access=True)
    eng.put_many(
        NS,
        [
            NewMemory(key="cold", text="read often", tier=Tier.LONG_TERM),
            NewMemory(key="warm", text="read once"),
        ],
    )
    return eng


def test_the_owners_payload_is_a_touch_entry_and_a_python_one_applies(
    make_engine: Callable[..., memd.Engine], tmp_path, clock: FakeClock
) -> None:
    owner = _deferred(make_engine, str(tmp_path / "owner"))
    replica = _deferred(make_engine, str(tmp_path / "replica"))
    times = [clock.advance(10) for _ in range(3)]
    for t in times:
        clock.now_ms = t
        owner.get_many(NS, ["cold", "missing"])
    owner.get_many(NS, ["warm"])
    assert owner.get_many(NS, ["cold"], count_access=False)[0].access_count == 0
    assert owner.pending_touches() == (2, 0)
    taken = owner.take_touches([NS])
    assert taken is not None
    payload, keys, promotions, more = taken
    assert (keys, promotions, more) == (2, 1, False)
    entry = cpb.TouchEntry.FromString(payload)
    assert [ns.namespace for ns in entry.namespaces] == [NS]
    cold, warm = entry.namespaces[0].accesses
    assert (cold.key, cold.count, list(cold.times_ms)) == ("cold", 3, times)
    assert cold.promote_from == mpb.TIER_LONG_TERM and not cold.promote_for_importance
    assert (warm.key, warm.count, warm.promote_from) == ("warm", 1, mpb.TIER_UNSPECIFIED)
    # The same entry built in Python applies alike on the replica.
    rebuilt = cpb.TouchEntry(
        namespaces=[
            cpb.TouchNamespace(
                namespace=NS,
                accesses=[
                    cpb.KeyAccess(
                        key="cold", count=3, times_ms=times, promote_from=mpb.TIER_LONG_TERM
                    ),
                    cpb.KeyAccess(key="warm", count=1, times_ms=[clock.now_ms]),
                ],
            )
        ]
    )
    assert replica.touch(rebuilt.SerializeToString(), now_ms=clock.now_ms, mark=("p1", 5)) == (
        2,
        1,
    )
    assert owner.touch(payload, now_ms=clock.now_ms, mark=("p1", 5)) == (2, 1)
    for eng in (owner, replica):
        cold_m, warm_m = eng.get_many(NS, ["cold", "warm"], count_access=False)
        assert (cold_m.tier, cold_m.access_count, cold_m.last_access_ms) == (
            Tier.SHORT_TERM,
            3,
            times[-1],
        )
        assert warm_m.access_count == 1
        assert eng.applied("p1") == 5


def test_a_bad_touch_payload_is_invalid_argument_and_records_no_mark(
    make_engine: Callable[..., memd.Engine], tmp_path
) -> None:
    eng = _deferred(make_engine, str(tmp_path / "store"))
    no_time = cpb.TouchEntry(
        namespaces=[cpb.TouchNamespace(namespace=NS, accesses=[cpb.KeyAccess(key="cold", count=1)])]
    )
    for payload in (b"\xff\xff", no_time.SerializeToString()):
        with pytest.raises(InvalidArgument):
            eng.touch(payload, now_ms=1, mark=("p1", 9))
    assert eng.applied("p1") == 0
    assert eng.get_many(NS, ["cold"], count_access=False)[0].access_count == 0
