"""Running a store's plan with the blocking client, the asyncio client, or a thread pool.

The store's logic (``plan.py``, ``search.py``) is written once, as generators that
yield lists of ``Call``s (memd RPCs and embedding requests) and receive their results
in the same order. A runner executes them: ``SyncRunner`` one after the other with a
``Client``; ``AsyncRunner`` concurrently with an ``AsyncClient``; ``ThreadedRunner``
(the blocking store's ``abatch``) runs the blocking calls in threads and awaits the
embedding function's async form. So the blocking and the asyncio store cannot drift
apart, and an asyncio store never blocks its event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langchain_core.embeddings import Embeddings

from memd_client._types import Memory
from memd_client.aio import AsyncClient
from memd_client.client import Client

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """One request of a plan.

    ``method`` is ``get``, ``store``, ``delete``, ``search`` (returns the list of hits),
    ``scan``, ``stats``, ``embed_documents`` or ``embed_query``. ``scan(namespace,
    select, stop)`` lists the namespace in key order and returns ``select(memory)`` for
    each memory where that is not None, ending once it holds ``stop`` results (None:
    never).
    """

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


Plan = Generator[list[Call], list[Any], T]
Select = Callable[[Memory], Any]


class _Picked(list[Any]):
    """What a scan keeps: ``select(memory)`` where not None, up to ``stop`` of them."""

    def __init__(self, select: Select, stop: int | None) -> None:
        super().__init__()
        self.select = select
        self.stop = stop
        # Pages no larger than needed when few results are wanted (each memory read
        # carries its value and embedding), but large enough for a selective filter.
        self.page_size = 1000 if stop is None else min(1000, max(stop, 100))

    def full(self) -> bool:
        """Whether ``stop`` results are held."""
        return self.stop is not None and len(self) >= self.stop

    def offer(self, memory: Memory) -> bool:
        """Keep ``select(memory)`` unless None; True once full."""
        chosen = self.select(memory)
        if chosen is not None:
            self.append(chosen)
        return self.full()


def _no_embeddings() -> Embeddings:
    raise ValueError("this store has no index (embed) configured")


class SyncRunner:
    """Runs plans with a blocking ``Client``, one call at a time."""

    def __init__(self, client: Client, embeddings: Embeddings | None) -> None:
        self.client = client
        self.embeddings = embeddings

    def run(self, plan: Plan[T]) -> T:
        """Drive ``plan`` to its end and return its value."""
        try:
            calls = next(plan)
            while True:
                calls = plan.send([self.call(c) for c in calls])
        except StopIteration as done:
            result: T = done.value
            return result

    def call(self, c: Call) -> Any:
        """Execute one call."""
        if c.method == "embed_documents":
            return (self.embeddings or _no_embeddings()).embed_documents(*c.args)
        if c.method == "embed_query":
            return (self.embeddings or _no_embeddings()).embed_query(*c.args)
        if c.method == "search":
            return list(self.client.search(*c.args, **c.kwargs))
        if c.method == "scan":
            return self._scan(*c.args)
        return getattr(self.client, c.method)(*c.args, **c.kwargs)

    def _scan(self, namespace: str, select: Select, stop: int | None) -> list[Any]:
        picked = _Picked(select, stop)
        if not picked.full():
            for memory in self.client.list(namespace, page_size=picked.page_size):
                if picked.offer(memory):
                    break
        return picked


class AsyncRunner:
    """Runs plans with an ``AsyncClient``; the calls of one step run concurrently."""

    def __init__(self, client: AsyncClient, embeddings: Embeddings | None) -> None:
        self.client = client
        self.embeddings = embeddings

    async def run(self, plan: Plan[T]) -> T:
        """Drive ``plan`` to its end and return its value."""
        try:
            calls = next(plan)
            while True:
                results = await asyncio.gather(*(self.call(c) for c in calls))
                calls = plan.send(list(results))
        except StopIteration as done:
            result: T = done.value
            return result

    async def call(self, c: Call) -> Any:
        """Execute one call."""
        if c.method == "embed_documents":
            return await (self.embeddings or _no_embeddings()).aembed_documents(*c.args)
        if c.method == "embed_query":
            return await (self.embeddings or _no_embeddings()).aembed_query(*c.args)
        if c.method == "search":
            return [hit async for hit in self.client.search(*c.args, **c.kwargs)]
        if c.method == "scan":
            return await self._scan(*c.args)
        return await getattr(self.client, c.method)(*c.args, **c.kwargs)

    async def _scan(self, namespace: str, select: Select, stop: int | None) -> list[Any]:
        picked = _Picked(select, stop)
        if not picked.full():
            listing = self.client.list(namespace, page_size=picked.page_size)
            memories: AsyncGenerator[Memory, None] = listing  # type: ignore[assignment]
            async with aclosing(memories):
                async for memory in memories:
                    if picked.offer(memory):
                        break
        return picked


class ThreadedRunner(AsyncRunner):
    """The blocking store's ``abatch``: RPCs in worker threads, embeddings awaited."""

    def __init__(self, sync: SyncRunner) -> None:
        self.sync = sync
        self.embeddings = sync.embeddings

    async def call(self, c: Call) -> Any:
        """Execute one call without blocking the event loop."""
        if c.method.startswith("embed_"):
            return await super().call(c)
        return await asyncio.to_thread(self.sync.call, c)
