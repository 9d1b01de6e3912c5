"""``Engine``: the typed Python face of the Rust store.

It owns one ``memd._core.Engine`` and supplies the clock, so the core stays a pure
function of the time it is given (tests pass a fake clock to drive TTL, LRU and
promotion). Every call is one call into Rust, with the GIL released there.
"""

from __future__ import annotations

import array
import builtins
import logging
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from memd import _core
from memd.types import EngineOptions, NewMemory, SearchQuery

if TYPE_CHECKING:
    from memd.archive.setup import ArchiveSetup
    from memd.embed.setup import EmbedSetup

_log = logging.getLogger("memd.engine")

Clock = Callable[[], int]
"""Returns milliseconds since the Unix epoch."""


def system_clock() -> int:
    """Wall-clock milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


def verify(path: str | Path) -> _core.VerifyReport:
    """Check the store in ``path`` offline; see ``_core.verify``.

    Raises ``DataDirInUse`` if a daemon or engine has it open, ``NotFound`` if there
    is no store there.
    """
    return _core.verify(str(path))


def pack_embedding(vector: Iterable[float]) -> bytes:
    """Pack floats as little-endian float32, the wire and storage format of embeddings."""
    packed = array.array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


class Engine:
    """A tiered memory store in one LMDB directory.

    Args:
        path: Data directory; created if missing.
        options: How to open it; defaults are the daemon's defaults.
        clock: Source of ``now`` for every call.
    """

    def __init__(
        self,
        path: str | Path,
        options: EngineOptions | None = None,
        clock: Clock = system_clock,
    ) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        self.options = options or EngineOptions()
        self._clock = clock
        self._core = _core.Engine(str(path), self.options)
        from_snapshot, refused = self._core.open_report
        steps = ", ".join(
            f"{name} {wall:.2f} s ({cpu:.2f} s CPU)" for name, wall, cpu in self._core.open_phases
        )
        if from_snapshot:
            _log.info("search state of %s loaded from its snapshot: %s", path, steps)
        elif refused:
            _log.warning(
                "search snapshot of %s refused, search state rebuilt: %s; %s", path, refused, steps
            )
        else:
            _log.info("search state of %s built from LMDB (no snapshot): %s", path, steps)

    @property
    def open_report(self) -> tuple[bool, str]:
        """How the search state was loaded: (from the snapshot, why a snapshot was refused)."""
        return self._core.open_report

    @property
    def open_phases(self) -> list[tuple[str, float, float]]:
        """Where the open's time went: (step, wall seconds, CPU seconds of its thread)."""
        return self._core.open_phases

    @property
    def path(self) -> str:
        """The data directory."""
        return self._core.path

    def put_many(
        self, namespace: str, items: Sequence[NewMemory], *, atomic: bool = True
    ) -> builtins.list[_core.PutResult]:
        """Store a batch and return after it is committed; see ``_core.Engine.put_many``."""
        return self._core.put_many(namespace, items, self._clock(), atomic)

    def put(self, namespace: str, item: NewMemory) -> _core.PutResult:
        """Store one memory (a batch of one)."""
        return self.put_many(namespace, [item])[0]

    def get_many(
        self,
        namespace: str,
        keys: Sequence[str],
        *,
        count_access: bool = True,
        now_ms: int | None = None,
    ) -> builtins.list[_core.Memory | None]:
        """Read a batch; ``None`` for missing or expired keys, in order.

        ``now_ms``: cluster mode's (what is expired at a log entry's time).
        """
        now = self._clock() if now_ms is None else now_ms
        return self._core.get_many(namespace, keys, now, count_access)

    def get(self, namespace: str, key: str) -> _core.Memory | None:
        """Read one memory."""
        return self.get_many(namespace, [key])[0]

    def delete_many(
        self,
        namespace: str,
        keys: Sequence[str],
        *,
        now_ms: int | None = None,
        mark: tuple[str, int] | None = None,
    ) -> builtins.list[bool]:
        """Delete a batch; ``True`` where a memory was removed.

        ``now_ms`` and ``mark`` are cluster mode's (a replicated entry applied at the
        time it was logged, with its sequence: ``_core.Engine.delete_many``).
        """
        now = self._clock() if now_ms is None else now_ms
        return self._core.delete_many(namespace, keys, now, mark)

    def delete_unchanged(
        self,
        namespace: str,
        keys: Sequence[str],
        unchanged: Sequence[tuple[int, int]],
        *,
        now_ms: int,
        mark: tuple[str, int] | None = None,
    ) -> builtins.list[bool]:
        """Delete ``keys[i]`` only while its ``(version, updated_ms)`` is ``unchanged[i]``.

        Cluster mode's last step of a move across partitions (``memd/cluster/transfer.py``).
        """
        return self._core.delete_unchanged(namespace, keys, unchanged, now_ms, mark)

    def list(
        self,
        namespace: str,
        *,
        tier: int = 0,
        cursor: str = "",
        limit: int = 100,
        reverse: bool = False,
        created_after_ms: int = 0,
        created_before_ms: int = 0,
        now_ms: int | None = None,
    ) -> _core.ListPage:
        """One page of live memories in key order; see ``_core.Engine.list``."""
        return self._core.list(
            namespace,
            self._clock() if now_ms is None else now_ms,
            tier,
            cursor,
            limit,
            reverse,
            created_after_ms,
            created_before_ms,
        )

    def search(self, query: SearchQuery, *, max_hit_bytes: int = 0) -> builtins.list[_core.Hit]:
        """The best ``query.k`` memories for a query, best first; see ``SearchQuery``.

        A hit larger than ``max_hit_bytes`` encoded (0: no bound) raises
        ``CapacityExceeded`` and counts no access.
        """
        return self._core.search(query, self._clock(), max_hit_bytes)

    def search_batch(
        self, queries: Sequence[SearchQuery], *, max_hit_bytes: int = 0
    ) -> builtins.list[builtins.list[_core.Hit]]:
        """Many searches of one namespace in one call; each query's hits, in order.

        See ``_core.Engine.search_batch``: every query is checked before any runs, and
        semantic queries with the same filter share one pass over the vectors.
        """
        return self._core.search_batch(queries, self._clock(), max_hit_bytes)

    def search_batch_encoded(
        self, queries: Sequence[SearchQuery], explain: Sequence[bool], max_reply_bytes: int
    ) -> builtins.list[bytes]:
        """``search_batch`` with its hits as encoded ``BatchSearchResponse`` pages.

        The gRPC path: the hits are encoded in Rust, no Python object per hit.
        """
        return self._core.search_batch_encoded(queries, explain, self._clock(), max_reply_bytes)

    def transfer(
        self,
        source: str,
        target: str,
        keys: Sequence[str] | None,
        *,
        move: bool = False,
        on_conflict: Literal["fail", "skip", "overwrite"] = "fail",
        on_dimension_mismatch: Literal["fail", "skip", "drop_embedding"] = "fail",
        now_ms: int | None = None,
        mark: tuple[str, int] | None = None,
    ) -> _core.TransferReport:
        """Move or copy memories to another namespace, atomically.

        Args:
            source: Where the memories are.
            target: Where they go (created if missing).
            keys: The keys, or ``None`` for every live memory of ``source``.
            move: Remove them from ``source`` (else copy).
            on_conflict: A key live in ``target``: ``fail`` (``AlreadyExists``, nothing
                changes), ``skip`` it, or ``overwrite`` the target's memory.
            on_dimension_mismatch: An embedding of another dimension than the target's:
                ``fail`` (``InvalidArgument``), ``skip`` the memory, or transfer it
                without the embedding (``drop_embedding``).
            now_ms: Cluster mode: the entry's time (default: the clock).
            mark: Cluster mode: the entry's ``(partition, sequence)``.
        """
        now = self._clock() if now_ms is None else now_ms
        return self._core.transfer(
            source, target, keys, now, move, on_conflict, on_dimension_mismatch, mark
        )

    def clear(self, namespace: str, tier: int = 0, *, mark: tuple[str, int] | None = None) -> int:
        """Delete every memory of one tier (0: all tiers) of a namespace; how many went.

        The namespace stays (with its dimension); ``NotFound`` if it does not exist.
        """
        return self._core.clear(namespace, tier, mark)

    def sweep(
        self,
        max_items: int = 1000,
        *,
        namespaces: Sequence[str] | None = None,
        now_ms: int | None = None,
        mark: tuple[str, int] | None = None,
    ) -> _core.SweepResult:
        """Remove at most ``max_items`` expired memories (of ``namespaces`` only, if set).

        ``namespaces``, ``now_ms`` and ``mark`` are cluster mode's sweep entry
        (``_core.Engine.sweep``).
        """
        now = self._clock() if now_ms is None else now_ms
        return self._core.sweep(now, max_items, namespaces, mark)

    def expired_count(self, namespaces: Sequence[str], now_ms: int | None = None) -> int:
        """How many memories of ``namespaces`` have expired and wait for a sweep."""
        return self._core.expired_count(namespaces, self._clock() if now_ms is None else now_ms)

    def take_touches(
        self, namespaces: Sequence[str], max_keys: int = 10_000
    ) -> tuple[bytes, int, int, bool] | None:
        """Cluster owner: the pending accesses of ``namespaces`` as a ``touch`` entry.

        Returns ``(payload, keys, promotions, more)`` (``memd.v1.TouchEntry``, with the
        owner's promotion decisions), or None when no read of theirs is waiting.
        Only with ``EngineOptions.deferred_access`` do reads wait here.
        """
        return self._core.take_touches(namespaces, max_keys)

    def touch(
        self, payload: bytes, *, now_ms: int, mark: tuple[str, int] | None = None
    ) -> tuple[int, int]:
        """Apply a ``touch`` entry at ``now_ms``: ``(touched, promoted)``.

        One transaction with ``mark`` (the entry's ``(partition, sequence)``).

        Raises:
            InvalidArgument: The payload is not a valid ``TouchEntry``; nothing changed.
        """
        return self._core.touch(payload, now_ms, mark)

    def pending_touches(self) -> tuple[int, int]:
        """``(keys waiting for a touch entry, reads dropped while the buffer was full)``."""
        return self._core.pending_touches()

    def lifecycle(
        self,
        namespace: str | None = None,
        *,
        consolidate: bool = True,
        policies: bool = True,
        dry_run: bool = False,
        max_actions: int = 10_000,
        now_ms: int | None = None,
        mark: tuple[str, int] | None = None,
    ) -> _core.LifecycleReport:
        """One lifecycle pass (consolidation and policies); see ``_core.Engine.lifecycle``.

        ``now_ms`` and ``mark``: cluster mode's lifecycle entry (one transaction).
        """
        now = self._clock() if now_ms is None else now_ms
        return self._core.lifecycle(
            now, namespace, consolidate, policies, dry_run, max_actions, mark
        )

    def stats(self, namespace: str | None = None) -> builtins.list[_core.NamespaceStats]:
        """Statistics of one namespace or of all."""
        return self._core.stats(namespace)

    def vector_index(self, namespace: str) -> tuple[int, int, int, int] | None:
        """``(vectors, graph_nodes, pending, condemned)`` of a namespace's vector index."""
        return self._core.vector_index(namespace)

    def namespaces(self) -> builtins.list[str]:
        """Names of namespaces that hold memories."""
        return self._core.namespaces()

    def drop_namespace(self, namespace: str, *, mark: tuple[str, int] | None = None) -> int:
        """Delete a namespace with all its memories; returns how many were removed."""
        return self._core.drop_namespace(namespace, mark)

    def applied(self, partition: str) -> int:
        """The last replicated-log sequence applied for ``partition`` (cluster mode)."""
        return self._core.applied(partition)

    def read_partition(
        self, namespaces: builtins.list[str], sequence: int, chunk_bytes: int = 1 << 20
    ) -> builtins.list[bytes]:
        """A cluster partition's copy: its namespaces as the store holds them, byte for byte.

        Read in one LMDB read transaction, as serialized ``PartitionSnapshotChunk``s of
        about ``chunk_bytes`` each, every one carrying ``sequence`` (the caller holds
        the partition's log still and names what it applied). Namespaces the store does
        not hold are left out.
        """
        return self._core.read_partition(namespaces, sequence, chunk_bytes)

    def install_partition(
        self,
        chunks: builtins.list[bytes],
        held: builtins.list[str],
        *,
        mark: tuple[str, int] | None = None,
    ) -> int:
        """Replace the namespaces ``held`` (a partition's, here) with a copy's.

        One transaction with ``mark``: the namespaces are deleted, the copy's records
        written, the in-memory view of the copy's namespaces loaded from them. Returns
        the copy's sequence.

        Raises:
            InvalidArgument: The chunks are not one copy; nothing changed.
        """
        return self._core.install_partition(chunks, held, mark)

    def flush(self) -> int:
        """Persist pending access statistics now."""
        return self._core.flush()

    def sync(self) -> None:
        """Force an fsync of the environment."""
        self._core.sync()

    def backup(self, path: str | Path) -> None:
        """Write a hot, compacted copy of the store into an empty directory."""
        Path(path).mkdir(parents=True, exist_ok=True)
        self._core.backup(str(path))

    def map_info(self) -> _core.MapInfo:
        """LMDB map size and bytes in use."""
        return self._core.map_info()

    def store_encoded(
        self,
        request: bytes,
        max_items: int = 100_000,
        *,
        now_ms: int | None = None,
        mark: tuple[str, int] | None = None,
    ) -> tuple[bytes, int]:
        """Store a serialized ``memd.v1.StoreRequest``; see ``_core.Engine.store_encoded``.

        The gRPC fast path: protobuf decoding and encoding happen in Rust. ``now_ms``
        and ``mark``: as in ``delete_many``.
        """
        now = self._clock() if now_ms is None else now_ms
        return self._core.store_encoded(request, now, max_items, mark)

    def store_encoded_group(
        self,
        requests: builtins.list[bytes],
        after: builtins.list[int | None],
        max_items: int = 100_000,
        *,
        now_ms: int,
        mark: tuple[str, int] | None = None,
    ) -> builtins.list[tuple[bytes, int] | Exception]:
        """Store serialized ``StoreRequest``s in one transaction, each on its own.

        Cluster mode's group commit; see ``_core.Engine.store_encoded_group``.
        """
        return self._core.store_encoded_group(requests, after, now_ms, max_items, mark)

    def retrieve_encoded(
        self, request: bytes, max_items: int = 100_000, max_reply_bytes: int = 4 << 20
    ) -> tuple[bytes, int]:
        """Read a serialized ``memd.v1.RetrieveRequest``; returns the encoded response.

        A reply over ``max_reply_bytes`` raises ``CapacityExceeded`` and counts nothing.
        """
        return self._core.retrieve_encoded(request, self._clock(), max_items, max_reply_bytes)

    def list_encoded(
        self,
        request: bytes,
        default_page: int = 100,
        max_page: int = 1_000,
        max_reply_bytes: int = 4 << 20,
    ) -> tuple[bytes, int]:
        """List from a serialized ``memd.v1.ListRequest``; returns the encoded response.

        The page is bounded by ``max_reply_bytes`` as well as by count.
        """
        return self._core.list_encoded(
            request, self._clock(), default_page, max_page, max_reply_bytes
        )

    def put_token(self, digest: bytes, record: bytes) -> None:
        """Insert or replace an access token's record (``digest`` = its SHA-256)."""
        self._core.put_token(digest, record)

    def delete_token(self, digest: bytes) -> bool:
        """Remove a token's record; ``True`` if it existed."""
        return self._core.delete_token(digest)

    def tokens(self) -> builtins.list[tuple[bytes, bytes]]:
        """Every ``(digest, record)`` pair, in digest order."""
        return self._core.tokens()

    def configure_archive(self, setup: ArchiveSetup | None) -> None:
        """Set (or remove) the object-storage archive; see ``memd.archive.configure``."""
        self._core.configure_archive(setup)

    def archive_pass(self) -> _core.ArchiveReport:
        """Offload qualifying ARCHIVE values and collect unreferenced objects."""
        return self._core.archive_pass(self._clock())

    def configure_embedding(self, setup: EmbedSetup) -> None:
        """Set the server-side embedders; see ``memd.embed.configure``."""
        self._core.configure_embedding(setup)

    def embedder_of(self, namespace: str) -> tuple[str, int] | None:
        """``(model identity, dimension)`` of the embedder serving ``namespace``, if any."""
        return self._core.embedder_of(namespace)

    def recorded_models(self) -> builtins.list[str]:
        """The distinct models the server has embedded namespaces with (sorted)."""
        return self._core.recorded_models()

    def embed(
        self, namespace: str, texts: Sequence[str], *, query: bool = False
    ) -> builtins.list[bytes]:
        """Vectors (packed float32) of ``texts`` by ``namespace``'s embedder; stores nothing."""
        return self._core.embed(namespace, texts, query)

    def close(self, snapshot_budget_s: float | None = None) -> None:
        """Flush, stop the writer, write the search snapshot and close LMDB. Idempotent.

        Args:
            snapshot_budget_s: At most this many seconds for the search snapshot
                (``None``: no bound; ``0``: none written). A snapshot that would take
                longer is abandoned and the next open rebuilds the search state from
                LMDB; either way the log says what happened.
        """
        report = self._core.close(snapshot_budget_s)
        if report is None:
            return
        size, seconds, skipped, phases = report
        steps = ", ".join(f"{name} {wall:.2f} s ({cpu:.2f} s CPU)" for name, wall, cpu in phases)
        if skipped:
            _log.warning(
                "search snapshot of %s not written (%s after %.1f s): the next start "
                "rebuilds the search state; close: %s",
                self.path,
                skipped,
                seconds,
                steps,
            )
        else:
            _log.info(
                "search snapshot of %s written: %.1f MiB in %.2f s; close: %s",
                self.path,
                size / 2**20,
                seconds,
                steps,
            )

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
