"""Markdown tables of a harness run: recall per system and kind, and paired deltas."""

from __future__ import annotations

from collections.abc import Sequence

from .generate import KINDS
from .metrics import Scores, bootstrap, row

HEADER = "| system | kind | n | R@1 | R@5 | R@10 | R@20 | All@5 | All@10 | All@20 |"


def recall_table(runs: dict[str, Scores], kinds: Sequence[str] = (*KINDS, "all")) -> str:
    lines = [HEADER, "|---|---|---:|" + "---:|" * 7]
    for name, s in runs.items():
        for kind in kinds:
            n = len(s.kinds) if kind == "all" else s.kinds.count(kind)
            if n == 0:
                continue
            cells = " | ".join(f"{x:.3f}" for x in row(s, kind))
            lines.append(f"| {name} | {kind} | {n} | {cells} |")
    return "\n".join(lines)


def delta_table(
    runs: dict[str, Scores],
    pairs: Sequence[tuple[str, str]],
    kinds: Sequence[str] = (*KINDS, "all"),
    cut: int = 10,
) -> str:
    """For each (baseline, candidate): candidate - baseline in R@cut and All@cut, with
    the paired bootstrap's 95% interval, per kind."""
    lines = [
        f"| baseline → candidate | kind | ΔR@{cut} [95% CI] | ΔAll@{cut} [95% CI] |",
        "|---|---|---|---|",
    ]
    for base, cand in pairs:
        if base not in runs or cand not in runs:
            continue
        a, b = runs[base], runs[cand]
        for kind in kinds:
            keep = [i for i, k in enumerate(a.kinds) if kind in ("all", k)]
            if not keep:
                continue
            cells = []
            for metric in (a.recall, a.all):
                other = b.recall if metric is a.recall else b.all
                d, lo, hi = bootstrap([metric[cut][i] for i in keep], [other[cut][i] for i in keep])
                cells.append(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
            lines.append(f"| {base} → {cand} | {kind} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
