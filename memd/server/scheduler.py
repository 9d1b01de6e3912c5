"""Background jobs of the daemon: the active TTL sweep now, lifecycle jobs later.

Expiry is both lazy and active, as in Redis: a read never returns an expired memory
(the engine checks on read), and this scheduler removes expired memories in the
background so that ones nobody reads do not hold disk and capacity forever.

Each job runs bounded work per run (``sweep(max_items)``) so that it never holds the
engine's writer for long. When a run reports that more work is left, the next run comes
after ``busy_delay_s`` instead of the full interval: a backlog (after a restart, or a
burst of short TTLs) drains quickly, but in steps that let client writes interleave.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic, perf_counter

from memd.engine import Engine
from memd.errors import EngineClosed
from memd.logs import event
from memd.metrics import Metrics

log = logging.getLogger("memd.scheduler")


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic bounded task.

    Attributes:
        name: Metric label and log name, e.g. ``ttl_sweep``.
        interval_s: Pause between runs when the last run finished its work.
        busy_delay_s: Pause between runs when the last run said there is more.
        run: Does one bounded run; returns ``(items processed, more work left)``.
    """

    name: str
    interval_s: float
    busy_delay_s: float
    run: Callable[[], tuple[int, bool]]


def ttl_sweep_job(engine: Engine, interval_s: float, max_items: int) -> Job:
    """The active expiry job: remove at most ``max_items`` expired memories per run."""

    def run() -> tuple[int, bool]:
        result = engine.sweep(max_items)
        return result.expired, result.more

    return Job("ttl_sweep", interval_s, min(interval_s, 0.05), run)


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
            items, more = job.run()
        except EngineClosed:
            return None  # shutting down
        except Exception as exc:
            m.job_runs.labels(job.name, "error").inc()
            log.error("job failed", exc_info=exc, extra={"fields": {"job": job.name}})
            return job.interval_s
        seconds = perf_counter() - start
        m.job_runs.labels(job.name, "ok").inc()
        m.job_seconds.labels(job.name).observe(seconds)
        m.job_items.labels(job.name).inc(items)
        if items:
            event(
                log,
                logging.INFO,
                "job run",
                job=job.name,
                items=items,
                more=more,
                ms=round(seconds * 1e3, 2),
            )
        return job.busy_delay_s if more else job.interval_s
