"""Planned moves: handing a partition to a chosen node (drain, rebalancing on join).

A planned move takes the failover's steps without waiting for a lease to lapse:
1. the owner stops serving the partition, after the write in flight (its lock);
2. it compare-and-sets the record to name the target as owner, at the same epoch,
   with a fresh lease in the target's name (so no third node takes it meanwhile);
3. the target's next tick finds itself named but not serving and takes the partition
   as in a failover: next epoch, a barrier entry, catch-up to the barrier, serve.
Every step is the failover's, so fencing holds the same way: the old owner wrote
nothing after step 1, and the barrier refuses any append it might still try. A target
that died meanwhile is a lapsed lease like any other: the next best node takes over.

Who should own a partition is rendezvous hashing over the eligible nodes (live, not
drained, ready: ``placement.Pool``), the same ranking every node computes, so an owner
that is not the best node for its partition hands it to the one that is. Rebalancing
moves at most one partition per owner per tick, and only partitions served for at
least ``SETTLE_LEASES`` leases, so a join moves its share gradually and a partition
just taken over is not moved again at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import nats.js.errors as js_errors

from memd.cluster.partition import placement_key
from memd.cluster.placement import NodeRecord, Placement, Pool
from memd.cluster.replica import PartitionState
from memd.logs import event

log = logging.getLogger("memd.cluster")

SETTLE_LEASES = 2
"""A partition is rebalanced only after its owner has served it this many leases."""


def stop_serving(state: PartitionState) -> bool:
    """Stop serving ``state``'s partition after the write in flight; True if it was served.

    Blocks on the partition's lock: call it from a worker thread, never from the
    cluster loop (an owner's write holds the lock while it waits on that loop).
    """
    with state.lock:
        served = state.serving
        state.serving = False
    return served


async def hand_over(
    kv: Any, state: PartitionState, target: str | None, now_ms: int, lease_ms: int
) -> bool:
    """Name ``target`` the owner of a partition this node stopped serving (step 2).

    With no target (no other eligible node), the lease is ended instead: whoever comes
    first takes it. Returns False when the record changed meanwhile (another node moved
    it first: nothing to do).
    """
    record = state.placement
    if record is None:
        return False
    if target is None:
        moved = replace(record, lease_until_ms=0)
    else:
        # The old owner holds the partition whole: it heads the followers until the
        # target's take-over writes its own list.
        followers = tuple(f for f in (record.owner, *record.followers) if f != target)
        moved = Placement(
            target, record.epoch, now_ms + lease_ms, followers[: len(record.followers)]
        )
    try:
        state.revision = await kv.update(
            placement_key(state.number), moved.encode(), last=state.revision
        )
    except js_errors.KeyWrongLastSequenceError:
        return False
    state.placement = moved
    event(log, logging.INFO, "handed over", partition=state.number, to=target or "(any)")
    return True


async def rebalance_one(
    node_id: str,
    kv: Any,
    states: list[PartitionState],
    pool: Pool,
    nodes: dict[str, NodeRecord],
    now_ms: int,
    lease_ms: int,
) -> int | None:
    """Hand one served partition whose best node is another one to that node.

    Only once that node is caught up on the partition: as the best node it is the first
    follower the owner lists, so it follows the partition, catches up, says so in its
    registration, and then gets it.

    Returns the partition moved, or None.
    """
    for state in states:
        if not state.serving or now_ms - state.serving_since_ms < SETTLE_LEASES * lease_ms:
            continue
        best = pool.best(state.number)
        if best is None or best == node_id or state.number not in nodes[best].caught_up:
            continue
        # The lock is waited for on a worker thread: the write holding it waits on
        # this loop for its append.
        if not await asyncio.to_thread(stop_serving, state):
            continue
        await hand_over(kv, state, best, now_ms, lease_ms)
        return state.number
    return None
