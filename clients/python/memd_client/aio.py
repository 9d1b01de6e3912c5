"""The asyncio client (grpc.aio): same methods as ``Client``, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from memd._pb.v1 import memory_service_pb2 as pb
from memd.types import Tier
from memd_client import _builder as build
from memd_client import _types as t
from memd_client._credentials import TLSConfig, channel_settings
from memd_client._errors import from_rpc_error
from memd_client._hit_stream import AsyncHitStream
from memd_client._ops import (
    BatchQuery,
    Conflict,
    DimensionMismatch,
    TransferResult,
    batch_request,
    batch_results,
    transfer_request,
    transfer_result,
)
from memd_client._owners import AsyncOwnerRoutes
from memd_client._routing import call_metadata, staleness_ms
from memd_client._rpc import DEFAULT_TIMEOUT_S, MAX_MESSAGE_BYTES, channel_options, multicallables


async def _aiter(items: Iterable[t.MemoryLike] | AsyncIterable[t.MemoryLike]) -> Any:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


class AsyncClient:
    """An asyncio memd client over one ``grpc.aio`` channel; create it inside the loop.

    Same arguments as ``Client``: ``target`` is ``host:port`` or ``unix:///path``,
    ``timeout`` the default deadline per call (not ``bulk_store``), ``retry`` the
    retries on UNAVAILABLE, ``token`` and ``tls`` the access token and TLS settings,
    ``route_to_owner`` sends each namespace's calls straight to its owner in a memd
    cluster (``_owners.py``).
    """

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        *,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        retry: t.RetryPolicy | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        options: Sequence[tuple[str, Any]] = (),
        token: str | None = None,
        tls: bool | TLSConfig = False,
        credentials: grpc.ChannelCredentials | None = None,
        route_to_owner: bool = False,
    ) -> None:
        credentials, secure = channel_settings(target, token, tls, credentials)
        opts = [*channel_options(max_message_bytes), *secure, *options]

        def connect(address: str) -> Any:
            if credentials is not None:
                return grpc.aio.secure_channel(address, credentials, options=opts)
            return grpc.aio.insecure_channel(address, options=opts)

        self._channel: Any = connect(target)
        self._calls = multicallables(self._channel)
        self._routes = (
            AsyncOwnerRoutes(self._calls, self._channel, connect, multicallables)
            if route_to_owner
            else None
        )
        self._timeout = timeout
        self._retry = retry if retry is not None else t.RetryPolicy()
        self.target = target

    async def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        if self._routes is not None:
            await self._routes.close()
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _deadline(self, timeout: float | None) -> float | None:
        return self._timeout if timeout is None else timeout

    async def _unary(
        self,
        method: str,
        request: Any,
        timeout: float | None,
        namespace: str | None = None,
        max_staleness: int | None = None,
    ) -> Any:
        deadline = self._deadline(timeout)
        backoffs = self._retry.backoffs()
        metadata = call_metadata(namespace, max_staleness)
        routes = self._routes
        while True:
            calls = self._calls if routes is None else await routes.calls(namespace)
            try:
                return await calls[method](request, timeout=deadline, metadata=metadata)
            except grpc.RpcError as err:
                if t.is_retryable(err):
                    if routes is not None:  # the owner may be gone: read the map again
                        await routes.refresh()
                    wait = next(backoffs, None)
                    if wait is not None:
                        await asyncio.sleep(wait)
                        continue
                raise from_rpc_error(err) from err

    async def store(
        self,
        namespace: str,
        memories: Iterable[t.MemoryLike],
        *,
        atomic: bool = False,
        timeout: float | None = None,
    ) -> t.StoreResult:
        """Store one batch; see ``Client.store``."""
        request = build.store_request(namespace, memories, atomic)
        return t.store_result(await self._unary("Store", request, timeout, namespace))

    async def get(
        self,
        namespace: str,
        keys: Iterable[str],
        *,
        peek: bool = False,
        max_staleness_ms: float | None = None,
        timeout: float | None = None,
    ) -> dict[str, t.Memory | None]:
        """Read keys: key -> Memory, or None for a missing or expired key; see ``Client.get``."""
        request = build.retrieve_request(namespace, keys, peek)
        bound = staleness_ms(max_staleness_ms)
        response: pb.RetrieveResponse = await self._unary(
            "Retrieve", request, timeout, namespace, bound
        )
        return {r.key: t.memory(r.memory) if r.found else None for r in response.results}

    def search(
        self,
        namespace: str,
        query: str = "",
        *,
        embedding: t.Embedding | None = None,
        limit: int = 10,
        max_staleness_ms: float | None = None,
        timeout: float | None = None,
        **filters: Any,
    ) -> AsyncHitStream:
        """Search (not awaited): ``async for hit in client.search(...)``; see ``Client``."""
        request = build.search_request(
            namespace, query=query, embedding=embedding, limit=limit, **filters
        )
        calls = self._calls if self._routes is None else self._routes.cached(namespace)
        call = calls["Search"]
        deadline = self._deadline(timeout)
        bound = staleness_ms(max_staleness_ms)
        # The caller's span now, not when iteration starts.
        metadata = call_metadata(namespace, bound)
        return AsyncHitStream(
            lambda: call(request, timeout=deadline, metadata=metadata), self._retry
        )

    async def batch_search(
        self,
        namespace: str,
        queries: Sequence[BatchQuery],
        *,
        shared: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[list[t.Hit]]:
        """Many searches of one namespace in one call; see ``Client.batch_search``."""
        request = batch_request(namespace, queries, shared)
        call = self._calls["BatchSearch"]
        deadline = self._deadline(timeout)
        backoffs = self._retry.backoffs()
        metadata = call_metadata(namespace)
        while True:
            try:
                pages = [p async for p in call(request, timeout=deadline, metadata=metadata)]
                return batch_results(pages, len(request.queries))
            except grpc.RpcError as err:
                if t.is_retryable(err):
                    wait = next(backoffs, None)
                    if wait is not None:
                        await asyncio.sleep(wait)
                        continue
                raise from_rpc_error(err) from err

    async def transfer(
        self,
        source: str,
        target: str,
        keys: Iterable[str] = (),
        *,
        whole_namespace: bool = False,
        move: bool = False,
        on_conflict: Conflict = "fail",
        on_dimension_mismatch: DimensionMismatch = "fail",
        timeout: float | None = None,
    ) -> TransferResult:
        """Copy or move memories to another namespace, atomically; see ``Client.transfer``."""
        request = transfer_request(
            source, target, keys, whole_namespace, move, on_conflict, on_dimension_mismatch
        )
        return transfer_result(await self._unary("Transfer", request, timeout, source))

    async def clear(
        self, namespace: str, tier: Tier | int = Tier.UNSPECIFIED, *, timeout: float | None = None
    ) -> int:
        """Delete every memory of one tier (default: all); see ``Client.clear``."""
        request = build.clear_request(namespace, tier)
        response: pb.ClearResponse = await self._unary("Clear", request, timeout, namespace)
        return response.removed

    async def delete(
        self, namespace: str, keys: Iterable[str], *, timeout: float | None = None
    ) -> int:
        """Delete keys; returns how many memories were removed."""
        request = build.delete_request(namespace, keys)
        response: pb.DeleteResponse = await self._unary("Delete", request, timeout, namespace)
        return response.deleted_count

    async def list(
        self,
        namespace: str,
        *,
        tier: Tier | int = Tier.UNSPECIFIED,
        page_size: int = 100,
        reverse: bool = False,
        created_after_ms: int = 0,
        created_before_ms: int = 0,
        max_staleness_ms: float | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[t.Memory]:
        """Every live memory of a namespace in key order (``async for``), page by page."""
        bound = staleness_ms(max_staleness_ms)
        token = ""
        while True:
            request = build.list_request(
                namespace, tier, page_size, token, reverse, created_after_ms, created_before_ms
            )
            page: pb.ListResponse = await self._unary("List", request, timeout, namespace, bound)
            for m in page.memories:
                yield t.memory(m)
            token = page.next_page_token
            if not token:
                return

    async def stats(self, namespace: str | None = None, *, timeout: float | None = None) -> t.Stats:
        """Statistics of one namespace (absent when unknown) or of all."""
        request = build.stats_request(namespace)
        return t.stats(await self._unary("Stats", request, timeout, namespace))

    async def bulk_store(
        self,
        namespace: str,
        memories: Iterable[t.MemoryLike] | AsyncIterable[t.MemoryLike],
        *,
        batch_size: int = 1000,
        atomic: bool = False,
        timeout: float | None = None,
    ) -> t.BulkResult:
        """Store any number of memories over one StoreStream; see ``Client.bulk_store``.

        ``memories`` may be an async iterable.
        """
        build.check_batch_size(batch_size)
        failure: list[Exception] = []

        async def requests() -> AsyncIterator[bytes]:
            batch: list[t.MemoryLike] = []
            batch_id = 0
            try:
                async for item in _aiter(memories):
                    batch.append(item)
                    if len(batch) == batch_size:
                        yield build.store_request(namespace, batch, atomic, batch_id)
                        batch, batch_id = [], batch_id + 1
                if batch:
                    yield build.store_request(namespace, batch, atomic, batch_id)
            except Exception as exc:  # bad input: end the stream, raise it below
                failure.append(exc)

        acks = t.BulkAcks()
        call = self._calls["StoreStream"](
            requests(), timeout=timeout, metadata=call_metadata(namespace)
        )
        try:
            async for response in call:
                acks.add(response)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from err
        if failure:
            raise failure[0]
        return acks.result()
