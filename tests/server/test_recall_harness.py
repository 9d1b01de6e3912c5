"""The recall harness (bench/recall) at its reduced size, through a real daemon.

The data: deterministic, every kind of question present with its gold turns, and
paraphrased questions sharing no content word with their evidence (checked here
again, independently of the generator's own assertion). The search: floors that a
broken keyword index or tokenizer would fail (chance is 10 / 100 turns at R@10).
The full size is the benchmark, `bench/recall_bench.py`.
"""

from __future__ import annotations

import random
import re
import sys

import pytest

from .daemon import REPO, StartDaemon

sys.path.insert(0, str(REPO / "bench"))

from recall.daemon import Config, ask, load
from recall.generate import KINDS, SIZES, generate
from recall.lexicon import STOP
from recall.metrics import bootstrap, row, score

SMALL = SIZES["small"]
FLAGS = ("--dedup-exact", "false", "--sweep-interval-s", "0", "--lifecycle-interval-s", "0")


def test_data_is_deterministic_and_complete() -> None:
    a, b = generate(SMALL, 7), generate(SMALL, 7)
    assert a == b
    assert generate(SMALL, 8).questions != a.questions
    turns = {t.key: t for c in a.conversations.values() for t in c}
    assert len(turns) == SMALL.conversations * SMALL.sessions * SMALL.turns_per_session
    for c in a.conversations.values():
        times = [t.created_ms for t in c]
        assert times == sorted(times) and times[-1] - times[0] > 60 * 86_400_000
        assert len({t.speaker for t in c}) == 4
    assert {q.kind for q in a.questions} == set(KINDS)
    for q in a.questions:
        assert all(g in turns and g.startswith(q.namespace) for g in q.gold)
        assert 1 <= len(q.gold) <= (3 if q.kind == "multi" else 2)
    assert any(len(q.gold) == 3 for q in a.questions if q.kind == "multi")


def content(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP}


def test_paraphrased_questions_share_no_content_word_with_their_evidence() -> None:
    data = generate(SMALL, 7)
    turns = {t.key: t for c in data.conversations.values() for t in c}
    paraphrased = [q for q in data.questions if q.kind == "paraphrased"]
    assert paraphrased
    for q in paraphrased:
        evidence = content(turns[q.gold[0]].text)
        words = content(q.text)
        assert not words & evidence, q.text
        # No shared 4-letter prefix either: stemming cannot bridge them.
        assert not {w[:4] for w in words} & {w[:4] for w in evidence}, q.text


def test_typo_questions_misspell_the_single_hop_ones() -> None:
    data = generate(SMALL, 7)
    single = {q.gold: q.text for q in data.questions if q.kind == "single"}
    for q in (q for q in data.questions if q.kind == "typo"):
        a, b = single[q.gold].split(), q.text.split()
        changed = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        assert 1 <= len(changed) <= 2 and all(abs(len(x) - len(y)) <= 1 for x, y in changed)


def test_bootstrap_interval() -> None:
    rng = random.Random(3)
    base = [float(rng.random() < 0.5) for _ in range(300)]
    same = bootstrap(base, base)
    assert same == (0.0, 0.0, 0.0)
    better = [1.0 if x == 0.0 and rng.random() < 0.4 else x for x in base]
    d, lo, hi = bootstrap(base, better)
    assert 0 < lo < d < hi
    d, lo, hi = bootstrap(better, base)
    assert lo < d < hi < 0


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return generate(SMALL, 7)


def test_keyword_recall_floors_through_a_daemon(start_daemon: StartDaemon, data) -> None:  # type: ignore[no-untyped-def]
    """Measured (seed 7, English stemming): single R@1 0.40, R@10 0.50; multi R@10
    0.75; typo R@10 0.25, with fuzzy 0.42; paraphrased R@10 0.04. Chance at R@10 is
    10 / 100 turns = 0.1: a tokenizer or index that matched nothing, or everything
    alike, would fail these floors."""
    d = start_daemon(*FLAGS)
    load(d.stub, data)
    plain = score(data.questions, ask(d.stub, data.questions, Config("keyword")))
    fuzzy = score(data.questions, ask(d.stub, data.questions, Config("keyword", fuzzy=True)))
    single = row(plain, "single")
    assert single[2] >= 0.4 and single[0] >= 0.25, single
    assert row(plain, "multi")[2] >= 0.5
    assert row(plain, "temporal")[2] >= 0.4
    # Paraphrased questions share no content word with their evidence.
    assert row(plain, "paraphrased")[2] <= 0.25
    # Fuzzy terms recover misspelt words.
    assert row(fuzzy, "typo")[2] >= row(plain, "typo")[2] + 0.1
