"""The scheduler's archive job (docs/archive.md).

One bounded pass (offload, then collection) per ``archive.interval_s``.
"""

from __future__ import annotations

from memd.engine import Engine
from memd.server.scheduler import Job, RunResult


def archive_job(engine: Engine, interval_s: float) -> Job:
    """Offload at most ``archive.max_objects`` objects per run, then collect.

    A run that failed (the store unreachable) is logged and counted as an error by the
    scheduler; the next run resumes from what was committed.
    """

    def run() -> RunResult:
        report = engine.archive_pass()
        fields = {"objects": report.objects, "bytes": report.bytes}
        fields["collected"] = report.collected
        return RunResult(report.offloaded + report.collected, report.more, fields)

    return Job("archive", interval_s, min(interval_s, 0.05), run)
