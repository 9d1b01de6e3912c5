"""A search's hits as an iterator, sync (``HitStream``) and async (``AsyncHitStream``).

Both fetch the server stream's pages as they are iterated, retry a search that fails with
UNAVAILABLE before its first page (after that, hits already handed out would repeat), and
cancel the call when the ``with`` block is left.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import grpc.aio

from memd._pb.v1 import memory_service_pb2 as pb
from memd_client import _types as t
from memd_client._errors import from_rpc_error


class _Pages:
    """What both streams hold: the call, the page being handed out, and the retry state."""

    def __init__(self, start: Callable[[], Any], retry: t.RetryPolicy) -> None:
        self._start = start
        self._retry = retry
        self._call: Any = None
        self._page: Iterator[pb.SearchHit] = iter(())
        self._received = False
        self._cancelled = False

    def _retry_wait(self, err: grpc.RpcError, backoffs: Iterator[float]) -> float:
        """How long to wait before starting the search again; raises if it must not be."""
        if not self._received and t.is_retryable(err):
            wait = next(backoffs, None)
            if wait is not None:
                self._call = None
                return wait
        raise from_rpc_error(err) from err

    def cancel(self) -> None:
        """Stop the search: the server stops sending and iteration ends."""
        self._cancelled = True
        self._page = iter(())
        if self._call is not None:
            self._call.cancel()

    @property
    def cancelled(self) -> bool:
        """True once ``cancel()`` was called."""
        return self._cancelled


class HitStream(_Pages, Iterator[t.Hit]):
    """The hits of a search, best first, fetched page by page as you iterate.

    Leaving a ``with`` block, or ``cancel()``, cancels the call; iteration then ends.
    A search that fails with UNAVAILABLE before its first page is retried.
    """

    def __iter__(self) -> HitStream:
        return self

    def __next__(self) -> t.Hit:
        while True:
            h = next(self._page, None)
            if h is not None:
                return t.hit(h)
            self._page = iter(self._next_page().hits)

    def _next_page(self) -> pb.SearchResponse:
        backoffs = self._retry.backoffs()
        while True:
            if self._cancelled:
                raise StopIteration
            if self._call is None:
                self._call = self._start()
            try:
                page: pb.SearchResponse = next(self._call)
            except grpc.RpcError as err:
                if self._cancelled:
                    raise StopIteration from None
                time.sleep(self._retry_wait(err, backoffs))
                continue
            self._received = True
            return page

    def __enter__(self) -> HitStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class AsyncHitStream(_Pages, AsyncIterator[t.Hit]):
    """The hits of a search, best first: ``async for hit in client.search(...)``.

    Leaving an ``async with`` block, or ``cancel()``, cancels the call; iteration then
    ends. A search that fails with UNAVAILABLE before its first page is retried.
    """

    def __aiter__(self) -> AsyncHitStream:
        return self

    async def __anext__(self) -> t.Hit:
        while True:
            h = next(self._page, None)
            if h is not None:
                return t.hit(h)
            self._page = iter((await self._next_page()).hits)

    async def _next_page(self) -> pb.SearchResponse:
        backoffs = self._retry.backoffs()
        while True:
            if self._cancelled:
                raise StopAsyncIteration
            if self._call is None:
                self._call = self._start()
            try:
                page = await self._call.read()
            except grpc.RpcError as err:
                if self._cancelled:
                    raise StopAsyncIteration from None
                await asyncio.sleep(self._retry_wait(err, backoffs))
                continue
            except asyncio.CancelledError:
                if self._cancelled:  # the call (not this task) was cancelled
                    raise StopAsyncIteration from None
                raise
            if page is grpc.aio.EOF:
                raise StopAsyncIteration
            self._received = True
            result: pb.SearchResponse = page
            return result

    async def __aenter__(self) -> AsyncHitStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cancel()
