"""The synchronous client: ``Client("host:port")`` or ``Client("unix:///path.sock")``."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import grpc

from memd._pb.v1 import memory_service_pb2 as pb
from memd.types import Tier
from memd_client import _builder as build
from memd_client import _types as t
from memd_client._credentials import TLSConfig, channel_settings
from memd_client._errors import from_rpc_error
from memd_client._hit_stream import HitStream
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
from memd_client._owners import OwnerRoutes
from memd_client._routing import call_metadata, staleness_ms
from memd_client._rpc import DEFAULT_TIMEOUT_S, MAX_MESSAGE_BYTES, channel_options, multicallables


class Client:
    """A blocking memd client over one gRPC channel; safe to share between threads.

    Args:
        target: ``host:port`` or ``unix:///path/to/memd.sock``.
        timeout: Default deadline in seconds of every call except ``bulk_store``
            (per attempt; None: no deadline). Each method takes ``timeout=`` too.
        retry: Retries of calls failing with UNAVAILABLE (``NO_RETRY`` disables them).
        max_message_bytes: Largest message sent or received.
        options: Extra grpc channel options.
        token: Access token, sent as ``authorization: Bearer <token>`` on every call.
            Without TLS only to a loopback address or a Unix socket.
        tls: ``True`` (the system's trust store) or a ``TLSConfig`` (CA, client
            certificate for mutual TLS, server name); False: plaintext.
        credentials: Your own ``grpc.ChannelCredentials`` instead of ``tls``.
        route_to_owner: In a memd cluster, send each namespace's calls straight to
            the owner of its partition (read from ``ClusterService/Cluster``, again
            after a call fails UNAVAILABLE) instead of through ``target``, which would
            forward them: one hop less. No effect on a single node.
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
                return grpc.secure_channel(address, credentials, options=opts)
            return grpc.insecure_channel(address, options=opts)

        self._channel: Any = connect(target)
        self._calls = multicallables(self._channel)
        self._routes = (
            OwnerRoutes(self._calls, self._channel, connect, multicallables)
            if route_to_owner
            else None
        )
        self._timeout = timeout
        self._retry = retry if retry is not None else t.RetryPolicy()
        self.target = target

    def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        if self._routes is not None:
            self._routes.close()
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _deadline(self, timeout: float | None) -> float | None:
        return self._timeout if timeout is None else timeout

    def _unary(
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
            call = (self._calls if routes is None else routes.calls(namespace))[method]
            try:
                return call(request, timeout=deadline, metadata=metadata)
            except grpc.RpcError as err:
                if t.is_retryable(err):
                    if routes is not None:  # the owner may be gone: read the map again
                        routes.refresh()
                    wait = next(backoffs, None)
                    if wait is not None:
                        time.sleep(wait)
                        continue
                raise from_rpc_error(err) from err

    def store(
        self,
        namespace: str,
        memories: Iterable[t.MemoryLike],
        *,
        atomic: bool = False,
        timeout: float | None = None,
    ) -> t.StoreResult:
        """Store one batch (at most the server's ``--max-batch-items``, default 10 000).

        Returns once it is committed. With ``atomic=False`` invalid items are reported
        in ``StoreResult.errors`` and the rest is stored; ``atomic=True`` raises
        ``InvalidArgument`` and stores nothing. A retried Store (after UNAVAILABLE) of
        memories without a key may store them twice if the first attempt committed just
        before the connection broke; give keys when that matters.
        """
        request = build.store_request(namespace, memories, atomic)
        return t.store_result(self._unary("Store", request, timeout, namespace))

    def get(
        self,
        namespace: str,
        keys: Iterable[str],
        *,
        peek: bool = False,
        max_staleness_ms: float | None = None,
        timeout: float | None = None,
    ) -> dict[str, t.Memory | None]:
        """Read keys: key -> Memory, or None for a missing or expired key.

        ``peek=True`` reads without counting an access (no promotion, no LRU touch).
        ``max_staleness_ms``: in cluster mode, a follower of the namespace may answer
        from a copy at most this far behind the owner (no effect on a single node).
        """
        request = build.retrieve_request(namespace, keys, peek)
        bound = staleness_ms(max_staleness_ms)
        response: pb.RetrieveResponse = self._unary("Retrieve", request, timeout, namespace, bound)
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
    ) -> HitStream:
        """Search; iterate the result for hits, best first.

        Args:
            namespace: Where to search.
            query: Keywords (BM25 over ``text``).
            embedding: Query vector (floats or packed bytes); with ``query``: hybrid.
            limit: Most hits (server maximum 1 000).
            max_staleness_ms: In cluster mode, a follower may answer from a copy at
                most this far behind the owner (as ``get``).
            timeout: Deadline of the whole stream.
            **filters: Any other ``SearchRequest`` field: ``phrase``, ``tiers``,
                ``tags_all``, ``tags_any``, ``metadata``, ``min_importance``,
                ``max_importance``, ``created_after_ms``, ``created_before_ms``,
                ``accessed_after_ms``, ``accessed_before_ms``, ``weights`` (a dict of
                relevance/recency/frequency/importance), ``recency_half_life_ms``,
                ``recency_from_created``, ``count_access``, ``explain``, ``mode``
                ("auto", "keyword", "semantic", "hybrid", "pattern"), ``fusion``
                ("weighted", "rrf"), ``pattern`` (a glob, or with
                ``pattern_syntax="regex"`` a regular expression, the text must match),
                ``pattern_ignore_case``, ``exact`` (scan every vector instead of
                walking a large namespace's HNSW graph), ``include_embedding`` (fill
                each hit's ``memory.embedding``; by default hits carry no vector),
                ``fuzzy`` (typo-tolerant keyword terms),
                ``keyword_weight`` (weighted fusion's keyword share), ``cosine_scale``
                ("default", "none", "minmax", "zscore"), ``rrf_depth`` (RRF's cut).
        """
        request = build.search_request(
            namespace, query=query, embedding=embedding, limit=limit, **filters
        )
        calls = self._calls if self._routes is None else self._routes.calls(namespace)
        call = calls["Search"]
        deadline = self._deadline(timeout)
        bound = staleness_ms(max_staleness_ms)
        # The caller's span now, not when iteration starts.
        metadata = call_metadata(namespace, bound)
        return HitStream(lambda: call(request, timeout=deadline, metadata=metadata), self._retry)

    def batch_search(
        self,
        namespace: str,
        queries: Sequence[BatchQuery],
        *,
        shared: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[list[t.Hit]]:
        """Many searches of one namespace in one call; each query's hits, in order.

        Args:
            namespace: Where to search.
            queries: Keywords, or dicts of ``search``'s arguments (``{"embedding": v}``,
                ``{"pattern": "*tea*", "mode": "pattern"}``); at most 256.
            shared: ``search``'s arguments for every query (filters, weights,
                ``limit``); a query's own fields replace these.
            timeout: Deadline of the call.

        Raises:
            InvalidArgument: A query the server refuses (its index is in the message);
                no query ran.
        """
        request = batch_request(namespace, queries, shared)
        pages = self._collect("BatchSearch", request, timeout, namespace)
        return batch_results(pages, len(request.queries))

    def transfer(
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
        """Copy (or ``move``) memories to another namespace, all or nothing.

        ``keys``, or every memory with ``whole_namespace=True``. A key the target holds
        is ``on_conflict``: ``fail`` (AlreadyExists, nothing transferred), ``skip`` or
        ``overwrite``; an embedding of another dimension than the target's is
        ``on_dimension_mismatch``: ``fail`` (InvalidArgument), ``skip`` or
        ``drop_embedding``.
        """
        request = transfer_request(
            source, target, keys, whole_namespace, move, on_conflict, on_dimension_mismatch
        )
        return transfer_result(self._unary("Transfer", request, timeout, source))

    def clear(
        self, namespace: str, tier: Tier | int = Tier.UNSPECIFIED, *, timeout: float | None = None
    ) -> int:
        """Delete every memory of one tier (default: every tier); returns how many.

        The namespace stays; NotFound if it does not exist.
        """
        request = build.clear_request(namespace, tier)
        response: pb.ClearResponse = self._unary("Clear", request, timeout, namespace)
        return response.removed

    def _collect(
        self, method: str, request: Any, timeout: float | None, namespace: str | None = None
    ) -> list[Any]:
        """Every message of a server stream; retried like ``_unary`` on UNAVAILABLE."""
        call = self._calls[method]
        deadline = self._deadline(timeout)
        backoffs = self._retry.backoffs()
        metadata = call_metadata(namespace)
        while True:
            try:
                return list(call(request, timeout=deadline, metadata=metadata))
            except grpc.RpcError as err:
                if t.is_retryable(err):
                    wait = next(backoffs, None)
                    if wait is not None:
                        time.sleep(wait)
                        continue
                raise from_rpc_error(err) from err

    def delete(self, namespace: str, keys: Iterable[str], *, timeout: float | None = None) -> int:
        """Delete keys; returns how many memories were removed (unknown keys are fine)."""
        request = build.delete_request(namespace, keys)
        response: pb.DeleteResponse = self._unary("Delete", request, timeout, namespace)
        return response.deleted_count

    def list(
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
    ) -> Iterator[t.Memory]:
        """Every live memory of a namespace in key order, fetched a page at a time.

        ``max_staleness_ms``: a follower read in cluster mode, as ``get``.
        """
        bound = staleness_ms(max_staleness_ms)
        token = ""
        while True:
            request = build.list_request(
                namespace, tier, page_size, token, reverse, created_after_ms, created_before_ms
            )
            page: pb.ListResponse = self._unary("List", request, timeout, namespace, bound)
            for m in page.memories:
                yield t.memory(m)
            token = page.next_page_token
            if not token:
                return

    def stats(self, namespace: str | None = None, *, timeout: float | None = None) -> t.Stats:
        """Statistics of one namespace (absent when unknown) or of all."""
        request = build.stats_request(namespace)
        return t.stats(self._unary("Stats", request, timeout, namespace))

    def bulk_store(
        self,
        namespace: str,
        memories: Iterable[t.MemoryLike],
        *,
        batch_size: int = 1000,
        atomic: bool = False,
        timeout: float | None = None,
    ) -> t.BulkResult:
        """Store any number of memories over one StoreStream, ``batch_size`` per batch.

        Returns after every batch is acknowledged (committed). ``atomic`` applies per
        batch. ``timeout`` bounds the whole stream (default: none). Not retried: on an
        error, the batches acknowledged before it stay committed and the exception is
        raised; item errors (``atomic=False``) come back with stream-wide indexes.
        """
        build.check_batch_size(batch_size)
        failure: list[Exception] = []

        def requests() -> Iterator[bytes]:
            try:
                yield from build.batches(namespace, memories, batch_size, atomic)
            except Exception as exc:  # bad input: end the stream, raise it below
                failure.append(exc)

        acks = t.BulkAcks()
        responses = self._calls["StoreStream"](
            requests(), timeout=timeout, metadata=call_metadata(namespace)
        )
        try:
            for response in responses:
                acks.add(response)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from err
        if failure:
            raise failure[0]
        return acks.result()
