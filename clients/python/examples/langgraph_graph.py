"""A LangGraph graph whose long-term memory lives in memd.

Start a daemon (``make serve`` in the repository root), then::

    pip install 'memd-client[langgraph]'
    python langgraph_graph.py [TARGET]      # TARGET: host:port, default 127.0.0.1:50051

The graph routes each message: "remember ..." stores a fact for the user, anything
else recalls the user's fact that best matches it. The facts are items of a
``MemdStore``, so they outlive the process: a second run starts with the facts of the
first (and stores them once: a fact's key is derived from its text). Searches here use
memd's keyword ranking (BM25), which needs no embedding model; with one, pass an index
instead, e.g.
``MemdStore(target, index={"dims": 1536, "embed": "openai:text-embedding-3-small",
"fields": ["text"]})``, and searches rank by meaning. ``tests/langgraph`` runs this
script against a real daemon.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from memd_client.langgraph import MemdStore


@dataclass
class Context:
    """Who the graph is talking to."""

    user_id: str


class State(TypedDict, total=False):
    """One turn: the user's message and the graph's reply."""

    message: str
    reply: str


def remember(state: State, runtime: Runtime[Context]) -> State:
    """Store the fact after "remember" under the user's namespace."""
    assert runtime.store is not None
    fact = state["message"].removeprefix("remember").strip()
    # A key derived from the fact: telling it twice stores it once.
    key = str(uuid.uuid5(uuid.NAMESPACE_URL, fact))
    runtime.store.put(("memories", runtime.context.user_id), key, {"text": fact})
    return {"reply": f"noted: {fact}"}


def recall(state: State, runtime: Runtime[Context]) -> State:
    """Answer with the user's stored fact that best matches the message."""
    assert runtime.store is not None
    hits = runtime.store.search(
        ("memories", runtime.context.user_id), query=state["message"], limit=1
    )
    if not hits:
        return {"reply": "I don't remember anything about that."}
    return {"reply": "I remember: " + "; ".join(h.value["text"] for h in hits)}


def route(state: State) -> str:
    """The node for this message."""
    return "remember" if state["message"].startswith("remember ") else "recall"


def build(store: MemdStore) -> CompiledStateGraph[State, Context, State, State]:
    """The compiled graph, with ``store`` as its long-term memory."""
    graph = StateGraph(State, context_schema=Context)
    graph.add_node("remember", remember)
    graph.add_node("recall", recall)
    graph.add_conditional_edges(START, route, ["remember", "recall"])
    graph.add_edge("remember", END)
    graph.add_edge("recall", END)
    return graph.compile(store=store)


def main(target: str) -> None:
    """Talk to the graph for two users; print each reply."""
    turns = [
        ("alice", "remember I take my tea with oat milk"),
        ("alice", "remember my sister lives in Lyon"),
        ("bob", "remember I am allergic to peanuts"),
        ("alice", "how do I take my tea?"),
        ("bob", "where does my sister live?"),
    ]
    with MemdStore(target, search_mode="keyword") as store:
        known = len(store.search(("memories", "alice"), limit=100))
        print(f"alice's memories before this run: {known}")
        app = build(store)
        for user, message in turns:
            result = app.invoke({"message": message}, context=Context(user_id=user))
            print(f"{user}: {message}\n  -> {result['reply']}")
        print("namespaces:", store.list_namespaces(prefix=("memories",)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MEMD_TARGET", "127.0.0.1:50051"))
