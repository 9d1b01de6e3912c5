"""Fixtures of the LangGraph store tests: one real daemon, stores of each kind, a toy embedding.

This directory has no ``__init__.py`` on purpose: as a package it would be named
``langgraph`` and hide the real one. Its modules are named ``lg_*`` and
``test_langgraph_*`` so none of them shadows a ``langgraph`` submodule either.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import lg_common
import pytest
from daemon_launcher import Daemon
from langgraph.store.base import BaseStore
from lg_common import MakeStore
from memd_client import Client
from memd_client.langgraph import AsyncMemdStore, MemdStore


@pytest.fixture(scope="package")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon (memd's defaults otherwise: exact dedup on) for every test here."""
    d = Daemon(tmp_path_factory.mktemp("langgraph") / "data", *lg_common.FLAGS)
    yield d
    d.close()


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Client]:
    with Client(daemon.address, timeout=10) as c:
        yield c


@pytest.fixture
def root() -> str:
    """A memd namespace root no other test uses, so tests do not see each other."""
    return f"lg-{uuid.uuid4().hex[:10]}"


class LoopThread:
    """An event loop in a thread, so an AsyncMemdStore can be driven by blocking calls.

    ``AsyncBatchedBaseStore`` runs its blocking methods (``put``, ``search``, ...) on its
    own loop from other threads, which is how the parity scenarios (written against the
    blocking API) exercise the asyncio store and client end to end.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(params=["memd", "memd-async"])
def make_memd(request: pytest.FixtureRequest, daemon: Daemon, root: str) -> Iterator[MakeStore]:
    """``make_memd(**store_args)``: a MemdStore, or an AsyncMemdStore on a loop thread."""
    made: list[Any] = []
    loop = LoopThread() if request.param == "memd-async" else None

    def make(**kwargs: Any) -> BaseStore:
        kwargs.setdefault("root", root)
        if loop is None:
            store: BaseStore = MemdStore(daemon.address, timeout=10, **kwargs)
        else:

            async def build() -> AsyncMemdStore:
                return AsyncMemdStore(daemon.address, timeout=10, **kwargs)

            store = loop.run(build())
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, MemdStore):
            store.close()
        elif loop is not None:
            loop.run(store.aclose())
    if loop is not None:
        loop.close()
