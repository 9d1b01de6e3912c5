"""``MemdStore`` and ``AsyncMemdStore``: LangGraph's ``BaseStore`` over a memd daemon."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, IndexConfig, Op, Result, TTLConfig, ensure_embeddings
from langgraph.store.base.batch import AsyncBatchedBaseStore

from memd.types import Tier
from memd_client.aio import AsyncClient
from memd_client.client import Client
from memd_client.langgraph import values
from memd_client.langgraph.calls import AsyncRunner, SyncRunner, ThreadedRunner
from memd_client.langgraph.namespaces import DEFAULT_ROOT, NamespaceCodec
from memd_client.langgraph.plan import batch_plan
from memd_client.langgraph.settings import SEARCH_MODES, SearchMode, Settings


def _configure(
    index: IndexConfig | None, root: str, search_mode: SearchMode, tier: Tier | int
) -> tuple[Settings, Embeddings | None]:
    if search_mode not in SEARCH_MODES:
        raise ValueError(f"search_mode must be one of {SEARCH_MODES}, got {search_mode!r}")
    embeddings = None
    dims = None
    if index is not None:
        if not index.get("embed") or not isinstance(index.get("dims"), int) or index["dims"] < 1:
            raise ValueError('index needs "embed" and a positive integer "dims"')
        embeddings = ensure_embeddings(index["embed"])
        dims = index["dims"]
    if search_mode == "hybrid" and embeddings is None:
        raise ValueError('search_mode="hybrid" needs an index with an "embed" function')
    fields = values.tokenize_fields((index or {}).get("fields"))
    return Settings(NamespaceCodec(root), fields, dims, search_mode, Tier(tier)), embeddings


class MemdStore(BaseStore):
    """A LangGraph store whose items are memd memories (blocking gRPC client).

    A drop-in replacement for ``InMemoryStore`` that keeps items in a memd daemon:
    durable, shared between processes, tiered, with TTLs. How items, namespaces,
    filters and search map to memd, and where behaviour differs from
    ``InMemoryStore``, is in docs/langgraph.md.

    Args:
        client: A ``memd_client.Client``, or a target (``"host:port"``,
            ``"unix:///path"``) to open one with ``client_options`` (``token``, ``tls``,
            ``timeout``, ...); a client made here is closed by ``close()``.
        index: LangGraph's index config: ``dims``, ``embed`` (an ``Embeddings``, a
            function of a list of texts, async or not, or a provider string) and
            ``fields`` (default ``["$"]``, the whole value). Items are embedded on put
            (one vector per item) and searches with a ``query`` rank by cosine.
        ttl: LangGraph's ``TTLConfig``; ``default_ttl`` (minutes) applies to puts
            without a ``ttl``. TTLs count from the last put: memd does not extend them
            on reads (``refresh_on_read`` only decides whether reads count as accesses).
        root: memd namespace prefix of every LangGraph namespace (``("a", "b")`` is
            ``"<root>/a/b"``).
        search_mode: How a ``query`` is answered: ``"semantic"`` (cosine, as LangGraph;
            without an index the query is ignored, as in LangGraph), ``"keyword"``
            (memd's BM25 over the indexed text, no embeddings needed) or ``"hybrid"``
            (memd's fusion of both; needs an index).
        tier: memd tier new items are stored into (default: the daemon's).
    """

    supports_ttl = True

    def __init__(
        self,
        client: Client | str = "127.0.0.1:50051",
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        root: str = DEFAULT_ROOT,
        search_mode: SearchMode = "semantic",
        tier: Tier | int = Tier.UNSPECIFIED,
        **client_options: Any,
    ) -> None:
        self.settings, self.embeddings = _configure(index, root, search_mode, tier)
        self.index_config = index
        self.ttl_config = ttl
        self._owns_client = isinstance(client, str)
        self.client = Client(client, **client_options) if isinstance(client, str) else client
        self._runner = SyncRunner(self.client, self.embeddings)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations: reads see the store as before the batch, then writes apply."""
        return self._runner.run(batch_plan(self.settings, ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """``batch`` without blocking the event loop (RPCs in worker threads)."""
        return await ThreadedRunner(self._runner).run(batch_plan(self.settings, ops))

    def close(self) -> None:
        """Close the client if this store opened it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> MemdStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncMemdStore(AsyncBatchedBaseStore):
    """``MemdStore`` over the asyncio client; create it inside the event loop.

    Like LangGraph's own async stores, concurrent ``aget``/``aput``/``asearch`` calls
    of one loop tick are gathered into one ``abatch``, and the blocking methods work
    from other threads (not from the loop's). Arguments as ``MemdStore``, with an
    ``AsyncClient`` (or a target).
    """

    supports_ttl = True

    def __init__(
        self,
        client: AsyncClient | str = "127.0.0.1:50051",
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        root: str = DEFAULT_ROOT,
        search_mode: SearchMode = "semantic",
        tier: Tier | int = Tier.UNSPECIFIED,
        **client_options: Any,
    ) -> None:
        settings, embeddings = _configure(index, root, search_mode, tier)
        super().__init__()
        self.settings, self.embeddings = settings, embeddings
        self.index_config = index
        self.ttl_config = ttl
        self._owns_client = isinstance(client, str)
        self.client = AsyncClient(client, **client_options) if isinstance(client, str) else client
        self._runner = AsyncRunner(self.client, self.embeddings)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations: reads see the store as before the batch, then writes apply."""
        return await self._runner.run(batch_plan(self.settings, ops))

    async def aclose(self) -> None:
        """Stop the batching task; close the client if this store opened it."""
        if self._task is not None:
            self._task.cancel()
        if self._owns_client:
            await self.client.close()

    async def __aenter__(self) -> AsyncMemdStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
