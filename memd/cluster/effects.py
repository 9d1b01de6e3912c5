"""The engine's own effects in cluster mode, appended to the log by the owner.

A TTL sweep or a lifecycle pass run by each replica on its own would make replicas
differ (each at its own time, over its own state). In cluster mode the owner of a
partition decides them instead, as log entries (``entry.py``: ``sweep``, ``lifecycle``)
carrying the time they run at; every replica applies them at that time, in log order,
and records the entry's sequence in the same LMDB transaction as the effects. The
owner's scheduler (``memd.server.scheduler.Scheduler``) runs the jobs below in place
of the single node's; the Sweep and RunLifecycle RPCs append the same entries.

A sweep entry is appended only when the partition's namespaces hold expired memories
(``Engine.expired_count``), so an idle cluster's log does not grow by one entry per
partition and interval. Reads' access statistics and promotions are ``touch`` entries
(``touch.py``). Consolidation on capacity (``consolidate_on_capacity``) is a
consolidation-only ``lifecycle`` entry per namespace over the threshold, decided by the
owner with the single node's check.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from time import perf_counter
from typing import Any

from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.entry import wall_ms
from memd.cluster.node import ClusterNode
from memd.cluster.partition import partition_of
from memd.cluster.touch import touch_job
from memd.config import Config
from memd.errors import NotFound, Unavailable
from memd.metrics import Metrics
from memd.server.scheduler import Job, RunResult, consolidate_on_capacity_job

log = logging.getLogger("memd.cluster")


def cluster_jobs(cfg: Config, node: ClusterNode, metrics: Metrics) -> list[Job]:
    """The scheduler's jobs of a cluster node (the configured intervals; 0: off)."""
    jobs = []
    if cfg.sweep_interval_s > 0:
        jobs.append(sweep_job(node, cfg.sweep_interval_s, cfg.sweep_max_items))
    if cfg.lifecycle_interval_s > 0:
        jobs.append(
            lifecycle_job(node, metrics, cfg.lifecycle_interval_s, cfg.lifecycle_max_actions)
        )
    if cfg.lifecycle_capacity_check_s > 0:
        jobs.append(consolidate_job(cfg, node, metrics))
    jobs.append(touch_job(node, cfg.engine.flush_interval_ms / 1000))  # reads: touch.py
    return jobs


def consolidate_job(cfg: Config, node: ClusterNode, metrics: Metrics) -> Job:
    """Cluster mode's ``consolidate_on_capacity``, as consolidation-only lifecycle entries.

    One ``lifecycle`` entry for each namespace of a served partition whose SHORT_TERM is
    full enough. The single node's job decides which namespaces (``Scheduler``'s fill check, on the
    owner's statistics); each pass is a logged entry, applied alike everywhere.
    """
    count = len(node.states)

    def run_pass(namespace: str) -> Any:
        partition = partition_of(namespace, count)
        if not node.states[partition].serving:
            return None  # its owner checks it
        request = pb.RunLifecycleRequest(
            namespace=namespace,
            jobs=[pb.LIFECYCLE_JOB_CONSOLIDATE],
            max_actions=cfg.lifecycle_max_actions,
        )
        try:
            return lifecycle_entry(node, partition, request)
        except Unavailable:
            return None  # moved away meanwhile

    return consolidate_on_capacity_job(
        node.replica.engine,
        metrics,
        cfg.lifecycle_capacity_check_s,
        cfg.lifecycle_consolidate_at,
        cfg.lifecycle_max_actions,
        run_pass,
    )


def sweep_partition(node: ClusterNode, partition: int, max_items: int) -> tuple[int, bool]:
    """Sweep ``partition`` through its log, as its owner: (removed, more expired remain).

    Appends nothing when nothing has expired.

    Raises:
        memd.errors.Unavailable: This node does not serve the partition (any more).
    """
    now = wall_ms()
    names = node.replica.namespaces_of(partition)
    if not names or node.replica.engine.expired_count(names, now) == 0:
        return 0, False
    payload = pb.SweepRequest(max_items=max_items).SerializeToString()
    result = node.write(partition, "sweep", payload, now)
    return int(result.expired), bool(result.more)


def lifecycle_entry(node: ClusterNode, partition: int, request: pb.RunLifecycleRequest) -> Any:
    """One namespace's lifecycle pass through ``partition``'s log: the engine's report.

    Raises:
        memd.errors.Unavailable: This node does not serve the partition (any more).
        memd.errors.NotFound: The namespace holds no memories.
    """
    return node.write(partition, "lifecycle", request.SerializeToString(), wall_ms())


def serving(node: ClusterNode) -> list[int]:
    """The partitions this node serves now."""
    return [s.number for s in node.states if s.serving]


def sweep_job(node: ClusterNode, interval_s: float, max_items: int) -> Job:
    """Cluster mode's ``ttl_sweep``: one sweep entry per served partition with expiries."""

    def run() -> RunResult:
        done, more = 0, False
        for partition in serving(node):
            try:
                n, left = sweep_partition(node, partition, max_items)
            except Unavailable:
                continue  # moved away meanwhile: its new owner sweeps it
            done += n
            more = more or left
        return RunResult(done, more)

    return Job("ttl_sweep", interval_s, min(interval_s, 0.05), run)


def lifecycle_job(node: ClusterNode, metrics: Metrics, interval_s: float, max_actions: int) -> Job:
    """Cluster mode's ``lifecycle``: one entry per namespace of every served partition."""

    def run() -> RunResult:
        done, more = 0, False
        totals: dict[str, int] = defaultdict(int)
        for partition in serving(node):
            for ns in node.replica.namespaces_of(partition):
                request = pb.RunLifecycleRequest(namespace=ns, max_actions=max_actions)
                start = perf_counter()
                try:
                    report = lifecycle_entry(node, partition, request)
                except NotFound:
                    continue  # dropped meanwhile
                except Unavailable:
                    break  # moved away meanwhile: its new owner runs it
                metrics.observe_lifecycle(report, "interval", False, perf_counter() - start)
                for rule, action, n in report.counts:
                    totals[f"{rule}/{action}"] += n
                    done += n
                more = more or report.more
        return RunResult(done, more, {"actions": dict(sorted(totals.items()))})

    return Job("lifecycle", interval_s, min(interval_s, 0.05), run)
