"""Loading a dataset into a real `memd serve` and asking its questions over gRPC.

Every turn is stored with its own creation time (`NewMemory.history`), in LONG_TERM
(no capacity eviction at these sizes); questions go through BatchSearch, 20 hits
each, with the configuration's mode, fusion and score weights. With `vectors` the
client brings each text's and question's embedding; without, a semantic or hybrid
search has the daemon embed the question (its `--embed-backend`).

With `context`, each turn is stored with `NewMemory.context` set to the previous
turn of its session (the first turn of a session gets none): the daemon indexes it
with the turn's words and, when it embeds the turn, embeds "context + text";
client-given vectors (`vectors`) stay those of the text alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc

from .generate import Dataset, Question, Turn

LIMIT = 20
Vectors = Callable[[list[str]], list[bytes]]
"""Texts -> packed little-endian float32 vectors, one per text."""

MODES = {
    "keyword": pb.SEARCH_MODE_KEYWORD,
    "semantic": pb.SEARCH_MODE_SEMANTIC,
    "hybrid": pb.SEARCH_MODE_HYBRID,
}
FUSIONS = {"weighted": pb.FUSION_WEIGHTED, "rrf": pb.FUSION_RRF, "": pb.FUSION_UNSPECIFIED}
SCALES = {
    "none": pb.COSINE_SCALE_NONE,
    "minmax": pb.COSINE_SCALE_MINMAX,
    "zscore": pb.COSINE_SCALE_ZSCORE,
    "": pb.COSINE_SCALE_UNSPECIFIED,
}


@dataclass(frozen=True)
class Config:
    """One way of searching: mode, fusion, and (relevance, recency, frequency,
    importance) weights; `None` weights are the server's defaults, as are an unset
    keyword share (`keyword_weight`), cosine rescaling ("") and RRF cut (0)."""

    mode: str
    fusion: str = ""
    weights: tuple[float, float, float, float] | None = (1.0, 0.0, 0.0, 0.0)
    recency_from_created: bool = False
    fuzzy: bool = False
    keyword_weight: float | None = None
    cosine_scale: str = ""
    rrf_depth: int = 0

    def request(self) -> pb.SearchRequest:
        r = pb.SearchRequest(
            mode=MODES[self.mode],
            fusion=FUSIONS[self.fusion],
            limit=LIMIT,
            recency_from_created=self.recency_from_created,
            fuzzy=self.fuzzy,
            keyword_weight=self.keyword_weight,
            cosine_scale=SCALES[self.cosine_scale],
            rrf_depth=self.rrf_depth,
        )
        if self.weights is not None:
            rel, rec, freq, imp = self.weights
            r.weights.CopyFrom(
                pb.ScoreWeights(relevance=rel, recency=rec, frequency=freq, importance=imp)
            )
        return r


def previous_turns(turns: Sequence[Turn]) -> list[str]:
    """Each turn's context: the text of the turn before it in the same session."""
    out = [""]
    for prev, turn in pairwise(turns):
        out.append(prev.text if session_of(prev) == session_of(turn) else "")
    return out


def session_of(turn: Turn) -> str:
    """The session part of a turn's key (`conv-00-s03-t07` -> `conv-00-s03`)."""
    return turn.key.rpartition("-")[0]


def load(
    stub: pb_grpc.MemoryServiceStub,
    data: Dataset,
    vectors: Vectors | None = None,
    context: bool = False,
) -> None:
    for ns, all_turns in data.conversations.items():
        contexts = previous_turns(all_turns) if context else [""] * len(all_turns)
        turns = all_turns
        for i in range(0, len(turns), 500):
            chunk = turns[i : i + 500]
            ctx = contexts[i : i + 500]
            packed = vectors([t.text for t in chunk]) if vectors else [b""] * len(chunk)
            items = [
                mpb.NewMemory(
                    key=t.key,
                    text=t.text,
                    embedding=v,
                    tier=mpb.TIER_LONG_TERM,
                    metadata={"speaker": t.speaker},
                    history=mpb.MemoryHistory(created_ms=t.created_ms),
                    context=c,
                )
                for t, v, c in zip(chunk, packed, ctx, strict=True)
            ]
            reply = stub.Store(pb.StoreRequest(namespace=ns, memories=items, atomic=True))
            assert len(reply.keys) == len(items)


def ask(
    stub: pb_grpc.MemoryServiceStub,
    questions: Sequence[Question],
    config: Config,
    vectors: Vectors | None = None,
) -> list[list[str]]:
    """The keys of each question's hits, best first, in the questions' order."""
    out: list[list[str]] = [[] for _ in questions]
    by_ns: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_ns.setdefault(q.namespace, []).append(i)
    shared = config.request()
    for ns, idx in by_ns.items():
        for start in range(0, len(idx), 256):
            part = idx[start : start + 256]
            texts = [questions[i].text for i in part]
            packed = vectors(texts) if vectors and config.mode != "keyword" else [b""] * len(part)
            qs = [
                pb.SearchRequest(query=t if config.mode != "semantic" or not v else "", embedding=v)
                for t, v in zip(texts, packed, strict=True)
            ]
            req = pb.BatchSearchRequest(namespace=ns, shared=shared, queries=qs)
            for page in stub.BatchSearch(req):
                out[part[page.query_index]] += [h.memory.key for h in page.hits]
    return out
