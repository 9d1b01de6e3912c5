"""``memd export`` filters: namespaces, tiers and creation-time ranges select exactly
the matching lines of the full export, in the same order and bytes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon_launcher import Daemon

from .conftest import export_of, run_memd

Doc = dict[str, Any]


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def test_each_filter_keeps_exactly_the_matching_lines(
    source: Daemon, exported: Path, tmp_path: Path
) -> None:
    lines = exported.read_bytes().splitlines(keepends=True)
    docs = [json.loads(line) for line in lines]
    mid = sorted(d["created_ms"] for d in docs)[len(docs) // 2]
    cases: list[tuple[list[str], Callable[[Doc], bool]]] = [
        (["--namespace", "team:ops"], lambda d: d["namespace"] == "team:ops"),
        (
            ["--namespace", "z", "--namespace", "ünïcode:ns"],
            lambda d: d["namespace"] in ("z", "ünïcode:ns"),
        ),
        (["--tier", "archive"], lambda d: d["tier"] == "archive"),
        (
            ["--tier", "working", "--tier", "long_term"],
            lambda d: d["tier"] in ("working", "long_term"),
        ),
        (["--created-after", str(mid)], lambda d: d["created_ms"] >= mid),
        (["--created-before", _iso(mid)], lambda d: d["created_ms"] < mid),
        (
            ["--namespace", "team:ops", "--tier", "short_term", "--created-before", str(mid)],
            lambda d: (
                d["namespace"] == "team:ops" and d["tier"] == "short_term" and d["created_ms"] < mid
            ),
        ),
    ]
    for flags, keep in cases:
        want = b"".join(line for line, d in zip(lines, docs, strict=True) if keep(d))
        assert want, flags
        got = export_of(source, tmp_path / "part.jsonl", *flags, in_process=True)
        assert got == want, flags


def test_an_unknown_namespace_exports_nothing_and_a_bad_time_is_a_usage_error(
    source: Daemon, tmp_path: Path
) -> None:
    assert export_of(source, tmp_path / "none.jsonl", "--namespace", "nobody") == b""
    done = run_memd("export", "--target", source.address, "--created-after", "last tuesday")
    assert done.returncode == 2 and "not ms since the epoch or ISO 8601" in done.stderr


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = run_memd("export", "--target", "127.0.0.1:1", "-o", str(out))
    assert done.returncode == 1 and "UNAVAILABLE" in done.stderr
    assert list(tmp_path.iterdir()) == []
