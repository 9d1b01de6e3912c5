"""The peer table: medians over rounds, and memd ÷ peer per row."""

from __future__ import annotations

import statistics
from typing import Any

MiB = 1024 * 1024

# (row, path into a round's figures, unit, higher is better, scale for display)
ROWS: list[tuple[str, tuple[str, ...], str, bool, float]] = [
    ("ingest (bulk, acknowledged)", ("ingest", "per_s"), "memories/s", True, 1.0),
    ("ingest until the server is idle", ("ingest_until_idle", "per_s"), "memories/s", True, 1.0),
    ("single store p50", ("store", "p50_ms"), "ms", False, 1.0),
    ("get by key p50", ("get", "p50_ms"), "ms", False, 1.0),
    ("vector top-10 p50", ("vector", "p50_ms"), "ms", False, 1.0),
    ("vector recall@10", ("vector", "recall_at_10"), "", True, 1.0),
    ("keyword top-10 p50", ("keyword", "p50_ms"), "ms", False, 1.0),
    ("server RSS", ("rss_bytes",), "MiB", False, 1.0 / MiB),
    ("disk", ("disk_bytes",), "MiB", False, 1.0 / MiB),
]

NOTES = {
    ("chroma", "keyword top-10 p50"): "unranked `$contains` substring filter (no ranking)",
}
for _redis in ("redis", "redis-everysec"):
    NOTES[(_redis, "single store p50")] = "SET"
    NOTES[(_redis, "get by key p50")] = "GET"
    NOTES[(_redis, "ingest (bulk, acknowledged)")] = "pipelined SETs, 1 000 per round trip"


def pick(fig: dict[str, Any], path: tuple[str, ...]) -> float | None:
    cur: Any = fig
    for part in path:
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return float(cur)


def rows(rounds: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One dict per row: the median of each system, memd ÷ each peer, who leads."""
    out = []
    for label, path, unit, higher, scale in ROWS:
        row: dict[str, Any] = {"row": label, "unit": unit, "higher_is_better": higher}
        for name, figs in rounds.items():
            vals = [v for f in figs if (v := pick(f, path)) is not None]
            row[name] = statistics.median(vals) * scale if vals else None
        for name in rounds:
            if name == "memd" or row[name] is None or row["memd"] is None or not row[name]:
                continue
            ratio = row["memd"] / row[name]
            row[f"memd/{name}"] = ratio
            row[f"memd_leads_{name}"] = ratio > 1 if higher else ratio < 1
        out.append(row)
    return out


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "memories/s":
        return f"{v:,.0f} /s".replace(",", " ")
    if unit == "ms":
        return f"{v:.3f} ms" if v < 10 else f"{v:.1f} ms"
    if unit == "MiB":
        return f"{v:,.0f} MiB".replace(",", " ")
    return f"{v:.3f}"


def render(table: list[dict[str, Any]], names: list[str]) -> str:
    """A markdown table: each system's median, and memd ÷ peer (✓ where memd leads)."""
    peers = [n for n in names if n != "memd"]
    head = ["row", "better", "memd"]
    for p in peers:
        head += [p, f"memd ÷ {p}"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (1 + 2 * len(peers))]
    notes: list[str] = []
    for row in table:
        cells = [row["row"], "higher" if row["higher_is_better"] else "lower"]
        cells.append(fmt(row["memd"], row["unit"]))
        for p in peers:
            value = fmt(row[p], row["unit"])
            note = NOTES.get((p, row["row"]))
            if note and row[p] is not None:
                if note not in notes:
                    notes.append(note)
                value += f" [{notes.index(note) + 1}]"
            cells.append(value)
            ratio = row.get(f"memd/{p}")
            mark = " ✓" if row.get(f"memd_leads_{p}") else ""
            cells.append("—" if ratio is None else f"{ratio:.3g}{mark}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"[{i}] {n}" for i, n in enumerate(notes, 1))]
    return "\n".join(lines)
