"""Recall figures per question kind, and the paired bootstrap that compares two runs.

- R@k: the share of a question's gold turns among the first k hits, averaged over
  questions;
- All@k: the share of questions with every gold turn among the first k hits (the
  same as R@k for one-turn questions).

Two configurations are compared on the same questions: the difference of a metric
is averaged over questions resampled with replacement (`B` times, a seeded
NumPy generator), and the 2.5th and 97.5th percentiles of those means are the 95%
confidence interval. An interval that excludes 0 is a difference the data supports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .generate import KINDS, Question

CUTS = (1, 5, 10, 20)


def recall_at(gold: Sequence[str], hits: Sequence[str], k: int) -> float:
    top = set(hits[:k])
    return sum(g in top for g in gold) / len(gold)


def all_at(gold: Sequence[str], hits: Sequence[str], k: int) -> float:
    top = set(hits[:k])
    return float(all(g in top for g in gold))


@dataclass
class Scores:
    """Per question (in the dataset's order): its kind and R@k / All@k for every cut."""

    kinds: list[str]
    recall: dict[int, list[float]]
    all: dict[int, list[float]]


def score(questions: Sequence[Question], results: Sequence[Sequence[str]]) -> Scores:
    s = Scores([q.kind for q in questions], {k: [] for k in CUTS}, {k: [] for k in CUTS})
    for q, hits in zip(questions, results, strict=True):
        for k in CUTS:
            s.recall[k].append(recall_at(q.gold, hits, k))
            s.all[k].append(all_at(q.gold, hits, k))
    return s


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def by_kind(values: Sequence[float], kinds: Sequence[str], kind: str) -> list[float]:
    return [v for v, k in zip(values, kinds, strict=True) if k == kind]


def row(s: Scores, kind: str) -> list[float]:
    """R@1, R@5, R@10, R@20, All@5, All@10, All@20 for one kind (or "all")."""
    pick = (lambda v: list(v)) if kind == "all" else (lambda v: by_kind(v, s.kinds, kind))
    return [mean(pick(s.recall[k])) for k in CUTS] + [mean(pick(s.all[k])) for k in CUTS[1:]]


def bootstrap(
    a: Sequence[float], b: Sequence[float], b_samples: int = 2000, seed: int = 1
) -> tuple[float, float, float]:
    """Mean of b - a over paired questions, and its 95% percentile interval."""
    diffs = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    n = len(diffs)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.sort(diffs[rng.integers(0, n, size=(b_samples, n))].mean(axis=1))
    lo, hi = means[int(0.025 * b_samples)], means[int(0.975 * b_samples) - 1]
    return float(diffs.mean()), float(lo), float(hi)


__all__ = ["CUTS", "KINDS", "Scores", "bootstrap", "by_kind", "row", "score"]
