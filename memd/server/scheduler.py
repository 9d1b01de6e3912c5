"""Background jobs of the daemon: the active TTL sweep and the memory lifecycle.

Expiry is both lazy and active, as in Redis: a read never returns an expired memory
(the engine checks on read), and this scheduler removes expired memories in the
background so that ones nobody reads do not hold disk and capacity forever.

Each job runs bounded work per run (``sweep(max_items)``) so that it never holds the
engine's writer for long. When a run reports that more work is left, the next run comes
after ``busy_delay_s`` instead of the full interval: a backlog (after a restart, or a
burst of short TTLs) drains quickly, but in steps that let client writes interleave.

Lifecycle jobs (docs/lifecycle.md):
- ``lifecycle``: every ``lifecycle.interval_s``, one full pass over every namespace
  (policies, then consolidation), at most ``lifecycle.max_actions`` actions per run.
- ``consolidate_on_capacity``: every ``lifecycle.capacity_check_s``, a consolidation-only
  pass of each namespace whose SHORT_TERM tier is at least ``consolidate_at`` full.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from time import monotonic, perf_counter
from typing import Any

from memd import _core
from memd.engine import Engine
from memd.errors import EngineClosed, NotFound
from memd.logs import event
from memd.metrics import Metrics
from memd.types import Tier

log = logging.getLogger("memd.scheduler")


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run of a job did.

    Attributes:
        items: Items processed (memories swept, lifecycle actions applied).
        more: True when work is left (the next run comes after ``busy_delay_s``).
        fields: Extra fields for the ``job run`` log line.
    """

    items: int
    more: bool
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic bounded task.

    Attributes:
        name: Metric label and log name, e.g. ``ttl_sweep``.
        interval_s: Pause between runs when the last run finished its work.
        busy_delay_s: Pause between runs when the last run said there is more.
        run: Does one bounded run.
    """

    name: str
    interval_s: float
    busy_delay_s: float
    run: Callable[[], RunResult]


def ttl_sweep_job(engine: Engine, interval_s: float, max_items: int) -> Job:
    """The active expiry job: remove at most ``max_items`` expired memories per run."""

    def run() -> RunResult:
        result = engine.sweep(max_items)
        return RunResult(result.expired, result.more)

    return Job("ttl_sweep", interval_s, min(interval_s, 0.05), run)


def _action_fields(counts: Iterable[tuple[str, str, int]]) -> dict[str, Any]:
    """Log fields for lifecycle action counts: ``{"actions": {"rule/action": n, ...}}``."""
    totals: dict[str, int] = defaultdict(int)
    for rule, action, n in counts:
        totals[f"{rule}/{action}"] += n
    return {"actions": dict(sorted(totals.items()))}


def lifecycle_job(engine: Engine, metrics: Metrics, interval_s: float, max_actions: int) -> Job:
    """The full lifecycle pass (policies, then consolidation) over every namespace."""

    def run() -> RunResult:
        start = perf_counter()
        report = engine.lifecycle(max_actions=max_actions)
        metrics.observe_lifecycle(report, "interval", False, perf_counter() - start)
        fields = _action_fields(report.counts)
        fields.update(scanned=report.scanned, skipped=report.skipped)
        fields["demoted_by_capacity"] = report.demoted_by_capacity
        return RunResult(sum(n for _, _, n in report.counts), report.more, fields)

    return Job("lifecycle", interval_s, min(interval_s, 0.05), run)


def consolidate_on_capacity_job(
    engine: Engine,
    metrics: Metrics,
    interval_s: float,
    threshold: float,
    max_actions: int,
    run_pass: Callable[[str], Any] | None = None,
) -> Job:
    """Consolidate each namespace whose SHORT_TERM holds >= ``threshold`` x its capacity.

    A namespace that stays over the threshold because nothing in it qualifies for
    consolidation is not scanned again until its SHORT_TERM statistics change (a write,
    a read, a move): the full ``lifecycle`` pass covers what time alone changes.

    ``run_pass(namespace)`` runs the consolidation-only pass and returns its report
    (default: ``engine.lifecycle``); it returns None for a namespace it leaves alone
    (cluster mode: a partition this node does not serve, memd/cluster/effects.py).
    """

    def engine_pass(namespace: str) -> Any:
        return engine.lifecycle(
            namespace, consolidate=True, policies=False, max_actions=max_actions
        )

    consolidate = run_pass or engine_pass
    idle: dict[str, tuple[Any, ...]] = {}  # namespace -> SHORT_TERM stats after a no-op pass

    def fingerprint(ts: _core.TierStats) -> tuple[Any, ...]:
        return (ts.count, ts.bytes, tuple(sorted(ts.counters.items())))

    def run() -> RunResult:
        done, more = 0, False
        per_ns: dict[str, int] = defaultdict(int)
        counts: list[tuple[str, str, int]] = []
        for ns in engine.stats():
            short = next((t for t in ns.tiers if t.tier == Tier.SHORT_TERM), None)
            if short is None or not short.capacity or short.count < threshold * short.capacity:
                idle.pop(ns.namespace, None)
                continue
            if idle.get(ns.namespace) == fingerprint(short):
                continue
            start = perf_counter()
            try:
                report = consolidate(ns.namespace)
            except NotFound:  # dropped since the stats were read
                continue
            if report is None:
                continue
            metrics.observe_lifecycle(report, "capacity", False, perf_counter() - start)
            acted = sum(n for _, _, n in report.counts)
            done += acted
            more = more or report.more
            counts += report.counts
            per_ns[ns.namespace] = acted
            if acted or report.more:
                idle.pop(ns.namespace, None)
            else:
                idle[ns.namespace] = fingerprint(short)
        fields = _action_fields(counts)
        fields["namespaces"] = {k: v for k, v in per_ns.items() if v}
        return RunResult(done, more, fields)

    return Job("consolidate_on_capacity", interval_s, min(interval_s, 0.05), run)


class Scheduler:
    """Runs jobs on one daemon thread until stopped.

    Args:
        jobs: What to run; each keeps its own next-run time.
        metrics: Where runs, durations, outcomes and items are counted.
    """

    def __init__(self, jobs: list[Job], metrics: Metrics) -> None:
        self._jobs = jobs
        self._metrics = metrics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memd-scheduler", daemon=True)

    def start(self) -> None:
        """Start the thread (a no-op without jobs)."""
        if self._jobs:
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for the current run to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        # One thread for all jobs: they all take the engine's writer, so running them in
        # parallel would only make them queue there.
        due = {job.name: monotonic() + job.interval_s for job in self._jobs}
        while True:
            job = min(self._jobs, key=lambda j: due[j.name])
            if self._stop.wait(max(due[job.name] - monotonic(), 0.0)):
                return
            delay = self._run_once(job)
            if delay is None:
                return
            due[job.name] = monotonic() + delay

    def _run_once(self, job: Job) -> float | None:
        """Run ``job`` once; returns the delay before its next run (None: stop)."""
        m = self._metrics
        start = perf_counter()
        try:
            result = job.run()
        except EngineClosed:
            return None  # shutting down
        except Exception as exc:
            m.job_runs.labels(job.name, "error").inc()
            log.error("job failed", exc_info=exc, extra={"fields": {"job": job.name}})
            return job.interval_s
        seconds = perf_counter() - start
        m.job_runs.labels(job.name, "ok").inc()
        m.job_seconds.labels(job.name).observe(seconds)
        m.job_items.labels(job.name).inc(result.items)
        if result.items:
            event(
                log,
                logging.INFO,
                "job run",
                job=job.name,
                items=result.items,
                more=result.more,
                ms=round(seconds * 1e3, 2),
                **result.fields,
            )
        return job.busy_delay_s if result.more else job.interval_s
