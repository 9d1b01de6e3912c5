"""Type stubs for the Rust extension ``memd._core`` (checked by ``mypy.stubtest``).

Every method that does work releases the GIL. Times are milliseconds since the Unix
epoch and are always passed in (``now_ms``): the engine never reads the clock, so TTL,
LRU and promotion are testable with a fake one (``memd.engine.Engine`` supplies it).
"""

import builtins
from collections.abc import Sequence
from typing import Literal, TypeAlias, final

from memd.archive.setup import ArchiveSetup
from memd.embed.setup import EmbedSetup
from memd.types import EngineOptions, NewMemory, SearchQuery

__all__ = [
    "ArchiveReport",
    "Engine",
    "Hit",
    "LifecycleAction",
    "LifecycleReport",
    "ListPage",
    "MapInfo",
    "Memory",
    "NamespaceStats",
    "PutResult",
    "RelayCall",
    "SweepResult",
    "TierStats",
    "TransferReport",
    "VerifyReport",
    "fill_store_keys",
    "peek_namespace",
    "relay_start",
    "relay_unary",
    "verify",
]

@final
class Memory:
    """A stored memory as read back (immutable)."""

    @property
    def namespace(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def context(self) -> str:
        """The context stored with the memory; empty when none."""
    @property
    def value(self) -> bytes: ...
    @property
    def embedding(self) -> bytes | None:
        """Packed little-endian float32, as stored."""
    @property
    def tags(self) -> list[str]: ...
    @property
    def metadata(self) -> dict[str, str]: ...
    @property
    def importance(self) -> float: ...
    @property
    def priority(self) -> int: ...
    @property
    def tier(self) -> int: ...
    @property
    def ttl_ms(self) -> int: ...
    @property
    def expires_at_ms(self) -> int:
        """0 means never."""
    @property
    def created_ms(self) -> int: ...
    @property
    def updated_ms(self) -> int: ...
    @property
    def last_access_ms(self) -> int: ...
    @property
    def access_count(self) -> int: ...
    @property
    def version(self) -> int: ...
    def vector(self) -> list[float] | None:
        """The embedding as a list of floats."""

@final
class PutResult:
    """Outcome of one item of ``put_many``."""

    @property
    def key(self) -> str:
        """The stored key (server-made when the item's key was empty)."""
    @property
    def version(self) -> int:
        """1 for a new memory, +1 on every update; 0 when the item failed."""
    @property
    def tier(self) -> int:
        """Tier the memory is in after the whole batch (eviction may demote it)."""
    @property
    def error(self) -> str | None:
        """Why this item was rejected (only with ``atomic=False``)."""
    @property
    def error_kind(self) -> str | None:
        """Name of the ``memd.errors`` class that describes ``error``."""
    @property
    def merged_into(self) -> str:
        """Key of the existing memory this item was merged into (dedup); empty if none.

        When set, ``key`` is that same key and ``version`` its new version.
        """
    @property
    def similar_to(self) -> str:
        """Key of a near-duplicate found in ``flag`` mode (the item was stored anyway)."""

@final
class ListPage:
    """One page of ``Engine.list``."""

    @property
    def items(self) -> list[Memory]: ...
    @property
    def next_cursor(self) -> str:
        """Pass back as ``cursor`` for the next page; empty when there is none."""

@final
class ArchiveReport:
    """What ``Engine.archive_pass`` did."""

    @property
    def offloaded(self) -> int:
        """Memories whose value went to the archive."""
    @property
    def objects(self) -> int:
        """Objects uploaded."""
    @property
    def bytes(self) -> int:
        """Value bytes uploaded (before compression)."""
    @property
    def collected(self) -> int:
        """Unreferenced objects deleted."""
    @property
    def more(self) -> bool:
        """More memories qualify than this pass offloaded."""

@final
class TransferReport:
    """What ``Engine.transfer`` did; see ``TransferResponse`` in the proto."""

    @property
    def transferred(self) -> int:
        """Memories written into the target (overwrites and dropped embeddings included)."""
    @property
    def overwritten(self) -> int:
        """Of those, memories that replaced one the target held."""
    @property
    def dropped_embeddings(self) -> int:
        """Of those, memories that arrived without their embedding."""
    @property
    def skipped_existing(self) -> int:
        """Left in place because the target held their key."""
    @property
    def skipped_dimension(self) -> int:
        """Left in place because of their embedding's dimension."""
    @property
    def missing(self) -> int:
        """Requested keys missing or expired in the source."""
    @property
    def demoted_by_capacity(self) -> int:
        """Target memories that capacity then demoted or evicted."""

@final
class SweepResult:
    """What one bounded TTL sweep did."""

    @property
    def expired(self) -> int:
        """Memories removed by this call."""
    @property
    def more(self) -> bool:
        """True when expired memories remain (call again)."""

@final
class TierStats:
    """Counts and counters of one tier of one namespace."""

    @property
    def tier(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def capacity(self) -> int:
        """0 is unbounded."""
    @property
    def bytes(self) -> int:
        """Encoded size of the tier's records (after compression)."""
    @property
    def value_bytes(self) -> int:
        """Size of the tier's values as stored by clients (before compression)."""
    @property
    def stored_value_bytes(self) -> int:
        """Size of the tier's values on disk (after compression)."""
    @property
    def compressed(self) -> int:
        """Memories whose value is stored compressed."""
    @property
    def importance_avg(self) -> float:
        """Mean importance (0 when empty)."""
    @property
    def created_avg_ms(self) -> int:
        """Mean creation time (0 when empty); ``now - created_avg_ms`` is the mean age."""
    @property
    def counters(self) -> dict[str, int]:
        """Events since open, by name.

        Names: ``hits``, ``expired.lazy``, ``expired.sweep``, ``evicted.capacity``,
        ``demoted.capacity``, ``promoted.frequency``, ``promoted.importance``, ``deleted``,
        ``consolidated``, ``policy.archived``, ``policy.demoted``, ``policy.deleted``,
        ``policy.refreshed``, ``dedup.merged``, ``dedup.flagged``. Each counts in the
        tier the memory was in when it happened.
        """

@final
class NamespaceStats:
    """Per-namespace statistics."""

    @property
    def namespace(self) -> str: ...
    @property
    def dimension(self) -> int:
        """Embedding dimension fixed by the first vector; 0 while unset."""
    @property
    def misses(self) -> int:
        """Reads of missing or expired keys since open."""
    @property
    def tiers(self) -> list[TierStats]:
        """WORKING, SHORT_TERM, LONG_TERM, ARCHIVE, in that order."""
    @property
    def vectors(self) -> int:
        """Live vectors in the namespace's vector index."""
    @property
    def vectors_pending(self) -> int:
        """Vectors waiting to enter the HNSW graph; 0: complete (or too small for one)."""
    @property
    def graph_nodes(self) -> int:
        """HNSW graph nodes, tombstones included."""
    @property
    def vector_bytes(self) -> int:
        """Heap bytes of the vector index (matrix, graph, bookkeeping)."""
    @property
    def vector_quantization(self) -> str:
        """How the matrix stores rows: ``none`` (f32) or ``int8``."""

@final
class MapInfo:
    """LMDB map usage."""

    @property
    def map_size(self) -> int: ...
    @property
    def used_bytes(self) -> int: ...

@final
class Hit:
    """One search result, with the breakdown of its score."""

    @property
    def key(self) -> str: ...
    @property
    def score(self) -> float:
        """The final score: the sum of the four ``*_part`` entries of ``explain``."""
    @property
    def memory(self) -> Memory:
        """The memory as stored, with access statistics as of the search.

        Its ``embedding`` is ``None`` unless the query set ``include_embedding``.
        """
    @property
    def explain(self) -> dict[str, float]:
        """How the score was made.

        ``relevance`` (fused, [0, 1]), ``bm25`` (raw), ``keyword`` (BM25 / the query
        terms' idf sum, capped at 1), ``cosine``, ``keyword_rank`` and
        ``semantic_rank`` (1-based ranks used by RRF fusion; 0 when not ranked),
        ``recency``, ``frequency``, ``importance`` (each in [0, 1]), the four
        weighted components ``relevance_part``, ``recency_part``,
        ``frequency_part``, ``importance_part`` (they sum to ``score``), and ``score``.
        """

@final
class LifecycleAction:
    """One thing a lifecycle pass did (or, in a dry run, would do) to one memory."""

    @property
    def namespace(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def rule(self) -> str:
        """``consolidate`` or the name of the policy that matched."""
    @property
    def action(self) -> str:
        """``consolidate``, ``archive``, ``demote``, ``delete`` or ``refresh``."""
    @property
    def from_tier(self) -> int: ...
    @property
    def to_tier(self) -> int:
        """Tier after the action; 0 for ``delete``."""
    @property
    def retention(self) -> float:
        """The memory's retention score when it was evaluated."""

@final
class LifecycleReport:
    """What one lifecycle pass did."""

    @property
    def actions(self) -> builtins.list[LifecycleAction]:
        """Applied actions (planned ones in a dry run), in namespace and key order."""
    @property
    def scanned(self) -> int:
        """Live memories evaluated."""
    @property
    def skipped(self) -> int:
        """Planned actions not applied because the memory changed in between."""
    @property
    def more(self) -> bool:
        """True when ``max_actions`` was reached before the scan ended (run again)."""
    @property
    def demoted_by_capacity(self) -> int:
        """Other memories that capacity moved or deleted as a consequence.

        A consolidation that fills LONG_TERM demotes its LRU victims, for example.
        """
    @property
    def counts(self) -> builtins.list[tuple[str, str, int]]:
        """``actions`` counted: ``(rule, action, count)``, sorted by rule then action."""
    def encode_response(self, dry_run: bool) -> bytes:
        """This report as a serialized ``RunLifecycleResponse``, built in Rust without the GIL."""

@final
class Engine:
    """A tiered memory store on one LMDB environment (one per directory)."""

    def __new__(cls, path: str, options: EngineOptions) -> Engine:
        """Open (creating if needed) the store in ``path``.

        Raises ``DataDirInUse``, naming the holder's pid, when another engine (in
        this process or another) has it open; ``close`` releases it.
        """
    @property
    def path(self) -> str: ...
    @property
    def open_report(self) -> tuple[bool, str]:
        """(loaded from the search snapshot, why a snapshot was refused or "")."""
    @property
    def open_phases(self) -> builtins.list[tuple[str, float, float]]:
        """Where the open's time went, step by step.

        (name, wall seconds, CPU seconds of the thread that ran it), in the order the
        steps ended: "header pass", "snapshot map", "snapshot checksum", "snapshot
        decode" (the three on a second thread, beside the header pass), "snapshot
        check", "rebuild".
        """
    def put_many(
        self,
        namespace: str,
        items: Sequence[NewMemory],
        now_ms: int,
        atomic: bool = True,
    ) -> builtins.list[PutResult]:
        """Store a batch; returns after it is committed.

        With ``atomic=True`` one invalid item raises ``InvalidArgument`` (naming its
        index) and nothing is stored; with ``atomic=False`` invalid items are reported
        in their ``PutResult`` and the valid ones are committed. An item's
        ``history`` replaces ``now_ms`` in its times and counts (``MemoryHistory``).
        """
    def get_many(
        self,
        namespace: str,
        keys: Sequence[str],
        now_ms: int,
        count_access: bool = True,
    ) -> builtins.list[Memory | None]:
        """Read a batch; missing and expired keys give ``None``, in order."""
    def delete_many(
        self,
        namespace: str,
        keys: Sequence[str],
        now_ms: int,
        mark: tuple[str, int] | None = None,
    ) -> builtins.list[bool]:
        """Delete a batch; ``True`` where a memory was removed.

        ``mark`` (cluster mode): ``(partition, sequence)`` of the replicated-log entry
        this call applies, recorded in the same transaction (see ``applied``).
        """
    def delete_unchanged(
        self,
        namespace: str,
        keys: Sequence[str],
        unchanged: Sequence[tuple[int, int]],
        now_ms: int,
        mark: tuple[str, int] | None = None,
    ) -> builtins.list[bool]:
        """Delete ``keys[i]`` only while its ``(version, updated_ms)`` is ``unchanged[i]``.

        Checked in the writer's transaction; ``True`` where a live memory was removed
        (a cross-partition move's last step in cluster mode).
        """
    def list(
        self,
        namespace: str,
        now_ms: int,
        tier: int = 0,
        cursor: str = "",
        limit: int = 100,
        reverse: bool = False,
        created_after_ms: int = 0,
        created_before_ms: int = 0,
    ) -> ListPage:
        """Live memories in key order (time order for server-made keys), paginated."""
    def search(self, query: SearchQuery, now_ms: int, max_hit_bytes: int = 0) -> builtins.list[Hit]:
        """The best ``query.k`` memories of ``query.namespace``, best first.

        A hit that would not fit a ``max_hit_bytes`` message (0: no bound) raises
        ``CapacityExceeded`` before any access is counted.

        Raises ``InvalidArgument`` (and changes nothing) for a query without text or
        vector for its mode, text of more than 1 024 distinct words, a vector of the
        wrong dimension or with NaN/inf, ``k`` outside 1..10 000, an unknown tier,
        mode or fusion, or negative times. An unknown namespace has no hits.
        """
    def search_batch(
        self, queries: Sequence[SearchQuery], now_ms: int, max_hit_bytes: int = 0
    ) -> builtins.list[builtins.list[Hit]]:
        """Every query's best hits, in query order, in one call (one namespace).

        The queries are checked first: one that ``search`` would refuse raises
        ``InvalidArgument`` naming its index, and nothing is recorded. More than 256
        queries, or more than 10 000 hits asked in all, is ``InvalidArgument``.
        """
    def search_batch_encoded(
        self,
        queries: Sequence[SearchQuery],
        explain: Sequence[bool],
        now_ms: int,
        max_reply_bytes: int = 4 << 20,
    ) -> builtins.list[bytes]:
        """``search_batch``, as encoded ``memd.v1.BatchSearchResponse`` pages.

        Pages of at most 100 hits and ``max_reply_bytes``, in query order, at least one
        per query; ``explain[i]`` fills query i's score parts. A hit too large for a
        page raises ``CapacityExceeded`` before any access is counted.
        """
    def transfer(
        self,
        source: str,
        target: str,
        keys: Sequence[str] | None,
        now_ms: int,
        moving: bool = False,
        on_conflict: Literal["fail", "skip", "overwrite"] = "fail",
        on_dimension_mismatch: Literal["fail", "skip", "drop_embedding"] = "fail",
        mark: tuple[str, int] | None = None,
    ) -> TransferReport:
        """Move or copy ``keys`` (``None``: every live memory) of ``source`` to ``target``.

        Atomic. Raises ``NotFound`` for an unknown source, ``AlreadyExists`` (with
        ``on_conflict="fail"``) or ``InvalidArgument`` (``on_dimension_mismatch="fail"``,
        bad names or keys) and changes nothing. ``mark``: cluster mode's
        ``(partition, sequence)``, recorded in the same transaction.
        """
    def clear(self, namespace: str, tier: int = 0, mark: tuple[str, int] | None = None) -> int:
        """Delete every memory of ``tier`` (0: all tiers) of a namespace; returns how many.

        Raises ``NotFound`` for an unknown namespace. ``mark`` as for ``transfer``.
        """
    def sweep(
        self,
        now_ms: int,
        max_items: int = 1000,
        namespaces: Sequence[str] | None = None,
        mark: tuple[str, int] | None = None,
    ) -> SweepResult:
        """Remove at most ``max_items`` expired memories, oldest expiry first.

        ``namespaces``: only theirs, ordered by (expiry, namespace name, key), so that
        replicas remove the same ones (cluster mode's sweep entry; unknown names are
        skipped). ``mark`` as for ``transfer``.
        """
    def expired_count(self, namespaces: Sequence[str], now_ms: int) -> int:
        """How many memories of ``namespaces`` have expired at ``now_ms`` (not swept yet)."""
    def take_touches(
        self, namespaces: Sequence[str], max_keys: int = 10_000
    ) -> tuple[bytes, int, int, bool] | None:
        """Cluster owner: a ``touch`` entry of the pending accesses of ``namespaces``.

        ``(payload, keys, promotions, more)``: a serialized ``memd.v1.TouchEntry`` with
        the owner's promotion decisions, or ``None`` when nothing is waiting.
        """
    def touch(
        self, payload: bytes, now_ms: int, mark: tuple[str, int] | None = None
    ) -> tuple[int, int]:
        """Apply a ``touch`` entry in one transaction: ``(touched, promoted)``."""
    def pending_touches(self) -> tuple[int, int]:
        """``(keys waiting for a touch entry, reads dropped while the buffer was full)``."""
    def vector_index(self, namespace: str) -> tuple[int, int, int, int] | None:
        """``(vectors, graph_nodes, pending, condemned)`` of a namespace's vector index.

        ``pending`` vectors are not in the HNSW graph yet (searches scan them exactly;
        the writer inserts them when idle); ``condemned`` are deleted graph nodes
        waiting for a repair pass. ``None`` for an unknown namespace.
        """
    def stats(self, namespace: str | None = None) -> builtins.list[NamespaceStats]:
        """Statistics of one namespace (empty list if unknown) or of all.

        An invalid namespace (empty, over 128 bytes, with NUL) raises ``InvalidArgument``.
        """
    def namespaces(self) -> builtins.list[str]: ...
    def drop_namespace(self, namespace: str, mark: tuple[str, int] | None = None) -> int:
        """Delete a namespace and all its memories; returns how many were removed.

        ``mark``: as in ``delete_many``.
        """
    def applied(self, partition: str) -> int:
        """The last replicated-log sequence applied for ``partition`` (0: none)."""
    def read_partition(
        self, namespaces: builtins.list[str], sequence: int, chunk_bytes: int = 1048576
    ) -> builtins.list[bytes]:
        """A partition's namespaces as serialized ``PartitionSnapshotChunk``s."""
    def install_partition(
        self,
        chunks: builtins.list[bytes],
        held: builtins.list[str],
        mark: tuple[str, int] | None = None,
    ) -> int:
        """Install a partition's copy in place of ``held``; returns its sequence."""
    def flush(self) -> int:
        """Persist pending access statistics now; returns how many records were updated."""
    def sync(self) -> None:
        """Force an fsync of the environment (meaningful in ``nosync`` mode)."""
    def backup(self, path: str) -> None:
        """Hot, consistent, compacted copy of the store into directory ``path``."""
    def map_info(self) -> MapInfo: ...
    def lifecycle(
        self,
        now_ms: int,
        namespace: str | None = None,
        consolidate: bool = True,
        policies: bool = True,
        dry_run: bool = False,
        max_actions: int = 10_000,
        mark: tuple[str, int] | None = None,
    ) -> LifecycleReport:
        """Run one lifecycle pass over one namespace (or all).

        With ``mark`` (cluster mode's ``(partition, sequence)``; needs ``namespace``,
        no ``dry_run``) the pass is planned whole, then applied in ONE transaction that
        records the mark, so a crash never leaves half a pass on disk.

        Evaluates the configured policies (``policies``) and consolidation
        (``consolidate``) on every live memory, in bounded batches: each batch is
        planned under a read lock, then applied in one write transaction that first
        re-checks each memory (one that changed since is skipped). ``dry_run`` plans
        without applying. Stops after ``max_actions`` actions (``more`` is then set).
        """
    def store_encoded(
        self,
        request: bytes,
        now_ms: int,
        max_items: int = 100_000,
        mark: tuple[str, int] | None = None,
    ) -> tuple[bytes, int]:
        """Store a serialized ``memd.v1.StoreRequest``.

        ``mark``: as in ``delete_many``.

        More than ``max_items`` items raise ``CapacityExceeded`` (nothing stored).
        Returns the serialized ``memd.v1.StoreResponse`` and the number of items.
        """
    def store_encoded_group(
        self,
        requests: builtins.list[bytes],
        after: builtins.list[int | None],
        now_ms: int,
        max_items: int = 100_000,
        mark: tuple[str, int] | None = None,
    ) -> builtins.list[tuple[bytes, int] | Exception]:
        """Store serialized ``memd.v1.StoreRequest``s as ONE writer job (group commit).

        Cluster mode's group commit: one transaction, one ``mark`` (recorded even when
        every request was refused), each request stored or refused on its own, in order.

        ``after[j]``: None, or the index ``k < j`` of a request that must have been
        stored for request ``j`` to be applied (else it is skipped: ``Unavailable``).
        Returns per request what ``store_encoded`` would have returned, or the
        exception it would have raised (``memd.errors``). Raises for the whole call
        only on a malformed ``after``, a closed engine or a storage error (then
        nothing is applied).
        """
    def retrieve_encoded(
        self,
        request: bytes,
        now_ms: int,
        max_items: int = 100_000,
        max_reply_bytes: int = 4 << 20,
    ) -> tuple[bytes, int]:
        """Read a serialized ``memd.v1.RetrieveRequest``.

        Returns the serialized ``memd.v1.RetrieveResponse`` and the number of keys.
        A reply that would exceed ``max_reply_bytes`` raises ``CapacityExceeded``
        before any access is counted (nothing changes).
        """
    def list_encoded(
        self,
        request: bytes,
        now_ms: int,
        default_page: int = 100,
        max_page: int = 1_000,
        max_reply_bytes: int = 4 << 20,
    ) -> tuple[bytes, int]:
        """List from a serialized ``memd.v1.ListRequest``.

        A page size of 0 means ``default_page``; larger ones are capped at ``max_page``.
        The page also ends before the reply would exceed ``max_reply_bytes`` (its
        token continues after the last memory sent); a single memory larger than that
        raises ``CapacityExceeded``. Returns the serialized ``memd.v1.ListResponse``
        and the page length.
        """
    def put_token(self, digest: bytes, record: bytes) -> None:
        """Insert or replace an access token's record; returns after the commit.

        ``digest`` is the token's SHA-256 (32 bytes), ``record`` opaque bytes of at
        most 64 KiB; anything else raises ``InvalidArgument``.
        """
    def delete_token(self, digest: bytes) -> bool:
        """Remove a token's record; ``True`` if it existed."""
    def tokens(self) -> builtins.list[tuple[bytes, bytes]]:
        """Every ``(digest, record)``, in digest order."""
    def configure_archive(self, setup: ArchiveSetup | None = None) -> None:
        """Set (or with None remove) the object-storage archive (docs/archive.md).

        Opens no connection. Raises ``InvalidArgument`` for a bad endpoint, bucket,
        prefix or key.
        """
    def archive_pass(self, now_ms: int) -> ArchiveReport:
        """Offload qualifying ARCHIVE values, then delete unreferenced objects.

        Raises ``Unavailable`` when the object store fails (what was committed stays).
        """
    def configure_embedding(self, setup: EmbedSetup) -> None:
        """Set the server-side embedders (docs/embeddings.md), loading the local model.

        Raises ``InvalidArgument`` for a model that cannot be loaded or whose
        dimension exceeds ``max_embedding_dim``.
        """
    def embedder_of(self, namespace: str) -> tuple[str, int] | None:
        """``(model identity, dimension)`` of the embedder serving ``namespace``."""
    def recorded_models(self) -> builtins.list[str]:
        """The distinct models the server has embedded namespaces with (sorted)."""
    def embed(
        self, namespace: str, texts: Sequence[str], query: bool = False
    ) -> builtins.list[bytes]:
        """Packed float32 vectors of ``texts`` by ``namespace``'s embedder; stores nothing.

        Raises ``InvalidArgument`` if no embedder serves it, ``Unavailable`` if it fails.
        """
    def close(
        self, snapshot_budget_s: float | None = None
    ) -> tuple[int, float, str, builtins.list[tuple[str, float, float]]] | None:
        """Flush, stop the writer, write the search snapshot, close LMDB. Idempotent.

        ``snapshot_budget_s`` bounds the snapshot write (``None``: no bound, ``0``: no
        snapshot); one that would overrun it is abandoned, and the next open rebuilds.
        Returns (snapshot bytes, seconds it took, why it was not written: "" when it
        was, the close's steps as (name, wall s, thread CPU s): "writer stop", "lmdb
        fsync", "snapshot write", "state release", "lmdb close"), or ``None`` when the
        engine was already closed. Raises
        ``InvalidArgument`` for a negative or non-finite budget.
        """

@final
class VerifyReport:
    """What an offline integrity check (``verify``) found."""

    @property
    def memories(self) -> int:
        """Records in the memories database (decodable or not)."""
    @property
    def by_tier(self) -> list[int]:
        """Memories per tier: WORKING, SHORT_TERM, LONG_TERM, ARCHIVE."""
    @property
    def namespaces(self) -> int: ...
    @property
    def tokens(self) -> int: ...
    @property
    def record_bytes(self) -> int:
        """Sum of the memory records' sizes."""
    @property
    def file_bytes(self) -> int:
        """Size of ``data.mdb``."""
    @property
    def problems(self) -> list[str]:
        """One line per problem found (at most 1 000, then a count); empty if healthy."""
    @property
    def ok(self) -> bool:
        """True when ``problems`` is empty."""

def verify(path: str) -> VerifyReport:
    """Check the store in directory ``path`` without changing it.

    Decodes every record of every database and checks what is derived from them
    (each memory's namespace and embedding dimension against the namespaces
    database). Takes the directory's lock, so a directory in use raises
    ``DataDirInUse``; a directory without a store raises ``NotFound``.
    """

def fill_store_keys(request: bytes, now_ms: int) -> tuple[bytes, str, int]:
    """A ``StoreRequest`` with a key for every memory that had none.

    Keys are made at ``now_ms`` in the engine's layout (sortable by time). Returns
    (the request to log, its namespace, its number of memories); ``request`` itself
    when no key was missing. Cluster mode's owner logs Stores this way, so every
    replica stores the same keys. Malformed bytes raise ``InvalidArgument``.
    """

def peek_namespace(request: bytes) -> str:
    """The namespace (field 1) of a serialized ``memd.v1`` request; "" when absent.

    Decoded as protobuf parsers do (unknown fields skipped, the last occurrence of
    field 1 wins), so it is the namespace the engine will act on. Malformed bytes
    raise ``InvalidArgument``. Only for messages whose field 1 is ``string
    namespace``.
    """

_RelayReply: TypeAlias = tuple[int, str, bytes, list[tuple[str, bytes]]]
"""A relayed call's end: (gRPC status code, status message, reply message, metadata).

The code is a number (``grpc.StatusCode.X.value[0]``); the message is ``grpc-message``
decoded; the reply message is empty unless the code is 0 (OK); the metadata is the
reply's own keys (initial, then trailing; not ``grpc-*``), values as sent (those of
``-bin`` keys still base64-encoded).
"""

def relay_unary(
    address: str,
    path: str,
    metadata: Sequence[tuple[str, str | bytes]],
    request: bytes,
    timeout_s: float,
    max_bytes: int,
) -> _RelayReply:
    """One unary gRPC call over plaintext HTTP/2, raw bytes in and out (the GIL released).

    The client half of a cluster node's forwarding hop (``src/relay/``): one connection
    per ``address`` (``host:port``), made once and reused by every thread's calls. The
    server's status is returned, never raised, and so are the call's own failures, coded
    as grpcio's client codes them: UNAVAILABLE (no connection, or it broke),
    DEADLINE_EXCEEDED (``timeout_s`` passed; the stream is reset), RESOURCE_EXHAUSTED (a
    message over ``max_bytes``), INTERNAL (a malformed reply).

    Args:
        address: ``host:port`` of the server.
        path: The method, ``/package.Service/Method``.
        metadata: Lowercase keys; ``str`` values of printable ASCII, ``bytes`` values
            under keys ending in ``-bin`` (sent base64-encoded).
        request: The serialized request message.
        timeout_s: The call's deadline from now (sent as ``grpc-timeout``).
        max_bytes: The largest message sent or received.

    Raises:
        InvalidArgument: Metadata HTTP/2 cannot carry (a reserved or malformed key, a
            value not printable ASCII), or a NaN timeout.
    """

def relay_start(
    address: str,
    path: str,
    metadata: Sequence[tuple[str, str | bytes]],
    request: bytes,
    timeout_s: float,
    max_bytes: int,
) -> RelayCall:
    """Start the call ``relay_unary`` makes; its reply comes from ``RelayCall.wait``.

    Raises:
        InvalidArgument: As ``relay_unary``.
    """

@final
class RelayCall:
    """A call started by ``relay_start``, running on the relay's own thread."""

    def wait(self, slice_s: float) -> _RelayReply | None:
        """The reply if it arrives within ``slice_s`` (GIL released), else None."""
    def cancel(self) -> None:
        """Give up on the call: its stream is reset, so the server sees it cancelled.

        A later ``wait`` returns CANCELLED (or the reply, if it came first).
        """
