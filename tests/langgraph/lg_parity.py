"""Running one scenario against InMemoryStore and a memd store, and comparing what they saw.

A scenario is a function of a store that returns what it observed (items, search
results, namespace lists). ``agree`` runs it on a fresh ``InMemoryStore`` (LangGraph's
reference behaviour) and on a memd store, and asserts both observed the same, up to
what legitimately differs: timestamps (each store has its own clock, and memd keeps
milliseconds), the last digits of scores (memd keeps vectors as float32), and the order
of hits whose scores tie (to 5 decimals), which neither store defines: InMemoryStore
keeps insertion order, memd orders ties by namespace and key. Scenarios insert in key
order, so even ties mostly come out alike; ``view`` compares a run of ties as a set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.store.base import BaseStore, Item, SearchItem
from langgraph.store.memory import InMemoryStore

Scenario = Callable[[BaseStore], Any]


def view(result: Any) -> Any:
    """A comparable form of a store result: items without timestamps, rounded scores."""
    if isinstance(result, SearchItem):
        score = None if result.score is None else round(result.score, 5)
        return ("hit", result.namespace, result.key, result.value, score)
    if isinstance(result, Item):
        return ("item", result.namespace, result.key, result.value)
    if isinstance(result, list):
        views = [view(r) for r in result]
        if result and all(isinstance(r, SearchItem) for r in result):
            return _ties_sorted(views)
        return views
    if isinstance(result, dict):
        return {k: view(v) for k, v in result.items()}
    return result


def agree(scenario: Scenario, memd: BaseStore, index: dict[str, Any] | None = None) -> Any:
    """Run ``scenario`` on InMemoryStore and on ``memd``; assert equal views; return it."""
    reference = view(scenario(InMemoryStore(index=index)))  # type: ignore[arg-type]
    observed = view(scenario(memd))
    assert observed == reference
    return observed


def _ties_sorted(hits: list[Any]) -> list[Any]:
    """Hits with runs of equal scores sorted by (namespace, key); other order kept."""
    out: list[Any] = []
    run: list[Any] = []
    for hit in hits:
        if run and (hit[4] is None or hit[4] != run[0][4]):
            out.extend(sorted(run, key=lambda h: (h[1], h[2])))
            run = []
        if hit[4] is None:
            out.append(hit)
        else:
            run.append(hit)
    out.extend(sorted(run, key=lambda h: (h[1], h[2])))
    return out
