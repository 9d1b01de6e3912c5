"""``ClusterNode``: this daemon's membership in a memd cluster.

It runs an asyncio loop (nats-py) on its own thread; gRPC worker threads reach it with
``call``. It keeps:
- the log: one JetStream stream (``MEMD_LOG``, subjects ``memd.log.<partition>``, R
  replicas), appended to by owners with the subject's expected last sequence;
- the applier: one ordered consumer per partition this node replicates (owner or one
  of the R - 1 followers, ``follow.py``), from the sequence after the last one its store
  applied, feeding a thread that applies entries in log order (``replica.py``); the
  owner's write path and the apply loop are in ``log_path.py``;
- the lease tick (every third of a lease, ``leasing.py``): renew this node's
  registration, read the placement of every partition, renew the leases it owns, claim
  free partitions and take over lapsed ones it ranks first for (``placement.py``); hand
  one partition whose best node is another one to that node (rebalancing,
  ``moves.py``); follow exactly the partitions whose records name it.

Taking a partition (``take.py``): compare-and-set the record with the next epoch, append
a barrier entry (expecting the subject's current last sequence: from then on a deposed
owner's appends are refused), wait until the applier has applied up to the barrier,
then serve. An owner whose append is refused, or whose renewal's compare-and-set fails,
stops serving at once; the next tick makes it a follower (or takes it back, at a new
epoch, when the record still names it).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

import nats
import nats.js.errors as js_errors
from nats.js import api

from memd.cluster import snapshot
from memd.cluster.call_meta import node_credentials
from memd.cluster.compaction import Compactor
from memd.cluster.entry import Entry, wall_ms
from memd.cluster.follow import Following
from memd.cluster.group_commit import StoreGroups
from memd.cluster.leasing import Leasing, lease_lapsed
from memd.cluster.log_path import APPEND_TIMEOUT_S, LogPaths
from memd.cluster.metrics import ClusterMetrics
from memd.cluster.moves import hand_over, stop_serving
from memd.cluster.options import ClusterOptions
from memd.cluster.partition import BUCKET, STREAM, SUBJECT_PREFIX, node_key
from memd.cluster.placement import NodeRecord, Pool
from memd.cluster.read_index import ReadIndex
from memd.cluster.replica import PartitionState, Replica
from memd.cluster.take import TakeOver
from memd.errors import Unavailable
from memd.logs import event

log = logging.getLogger("memd.cluster")
T = TypeVar("T")


class ClusterNode(LogPaths, Leasing):
    """One node's link to NATS and its view of the placement map.

    Args:
        options: Resolved cluster options (node id and address set).
        replica: This node's store as a replica.
        metrics: Where to count.
    """

    def __init__(self, options: ClusterOptions, replica: Replica, metrics: ClusterMetrics) -> None:
        self.options = options
        self.id = options.node_id
        self.replica = replica
        self.metrics = metrics
        self.nodes: dict[str, NodeRecord] = {}
        self._lease_ms = int(options.lease_s * 1000)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="memd-cluster", daemon=True
        )
        self._applier = threading.Thread(
            target=self._apply_forever, name="memd-applier", daemon=True
        )
        self._inbox: queue.Queue[tuple[int, int, Entry, float] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._started_ms = 0
        self._nc: Any = None
        self._js: Any = None
        self._kv: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._take = TakeOver(self)
        self._leaving = False
        self.draining = False
        self.following = Following(
            replica.states, self._on_entry, partial(snapshot.fetch_and_install, self)
        )
        self.compactor = Compactor(self)
        self.credentials = node_credentials(options.admin_token_file)
        self.read_index = ReadIndex(replica.states, self.credentials, metrics)
        self.stores = StoreGroups(self)

    @property
    def ready(self) -> bool:
        """This node has caught up on every partition it follows."""
        return len(self.following.caught_up()) == len(self.following.partitions)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The cluster loop (nats-py's calls run on it)."""
        return self._loop

    @property
    def nc(self) -> Any:
        """The NATS connection (once started)."""
        return self._nc

    @property
    def js(self) -> Any:
        """The JetStream context (once started)."""
        return self._js

    @property
    def kv(self) -> Any:
        """The placement bucket (once started)."""
        return self._kv

    @property
    def max_entry_bytes(self) -> int:
        """The largest log entry NATS takes (its ``max_payload``; 1 MiB by default)."""
        return int(getattr(self._nc, "max_payload", 0) or 1 << 20)

    @property
    def states(self) -> list[PartitionState]:
        """Every partition's state, in partition order."""
        return self.replica.states

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the cluster loop and wait for it (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # ---- start and stop -------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Connect, create the log and the bucket if needed, start following and leasing.

        Raises:
            Unavailable: NATS did not answer within ``timeout`` seconds.
        """
        self._thread.start()
        self._applier.start()
        try:
            self.call(self._start(timeout), timeout + 5)
        except Exception as exc:
            self.stop()
            raise Unavailable(f"cluster: cannot join through {self.options.url}: {exc}") from None

    async def _start(self, timeout: float) -> None:
        self._nc = await nats.connect(
            self.options.servers,
            name=f"memd-{self.id}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=2,
        )
        self._js = self._nc.jetstream(timeout=APPEND_TIMEOUT_S)
        deadline = time.monotonic() + timeout
        # A JetStream cluster that just started has no meta leader for a few seconds,
        # and a stream just created no leader: each step is retried until it works.
        await self._until(deadline, "creating the log", self._ensure_log)
        self.following.js = self._js
        self._started_ms = wall_ms()
        await self._until(deadline, "reading the placement map", self._tick)
        self._tasks.append(self._loop.create_task(self._lease_forever()))

    @staticmethod
    async def _until(deadline: float, what: str, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await step()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise
                event(log, logging.INFO, "cluster start: retrying", step=what, error=str(exc))
                await asyncio.sleep(0.5)

    async def _ensure_log(self) -> None:
        replicas = self.options.replicas
        try:
            await self._js.stream_info(STREAM)
        except js_errors.NotFoundError:
            await self._js.add_stream(
                name=STREAM,
                subjects=[SUBJECT_PREFIX + ">"],
                num_replicas=replicas,
                storage=api.StorageType.FILE,
            )
        try:
            self._kv = await self._js.key_value(BUCKET)
        except js_errors.BucketNotFoundError:
            self._kv = await self._js.create_key_value(bucket=BUCKET, replicas=replicas, history=1)

    def release(self, timeout: float = 5.0) -> int:
        """Leave (SIGTERM): hand every partition over now and take none any more.

        The next owners take over at their next tick instead of after a lease. The node
        keeps applying the log until ``stop``. Returns how many partitions it handed over.
        """
        self._leaving = True
        return self.drain(timeout=timeout)

    def drain(self, resume: bool = False, timeout: float = 5.0) -> int:
        """Drain this node while it keeps running, or (``resume``) undo a drain.

        Drained, it registers as draining (no node deals it a partition), stops serving
        each partition after the write in flight, and names the best other node owner
        of each (``moves.py``). It goes on applying the log. Returns how many
        partitions it handed over. Call it from a worker thread, not the cluster loop.
        """
        self.draining = not resume
        released = [] if resume else [s for s in self.states if stop_serving(s)]
        try:
            self.call(self._hand_over_all(released), timeout)
        except Exception as exc:  # NATS unreachable: the leases lapse on their own
            event(log, logging.WARNING, "handing partitions over", error=str(exc))
        return len(released)

    async def _hand_over_all(self, states: list[PartitionState]) -> None:
        now = wall_ms()
        await self._register(now)
        pool = Pool.of(self.nodes, now, self._lease_ms)
        for state in states:
            record = state.placement
            if record is not None and record.owner == self.id:
                target = pool.best(state.number, exclude=self.id)
                await hand_over(self._kv, state, target, now, self._lease_ms)

    async def _register(self, now: int) -> None:
        applied = {p: self.states[p].applied for p in sorted(self.following.partitions)}
        record = NodeRecord(
            self.options.advertise,
            now,
            self.draining,
            self.ready,
            self.following.caught_up(),
            applied,
        )
        await self._kv.put(node_key(self.id), record.encode())

    def stop(self) -> None:
        """Stop leasing and applying and close the NATS connection. Leases lapse."""
        self._stopping.set()
        self._inbox.put(None)
        if self._loop.is_running():
            try:
                self.call(self._close(), 5.0)
            except Exception as exc:  # a NATS that is gone cannot be closed politely
                event(log, logging.WARNING, "cluster close", error=str(exc))
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        self._applier.join(5.0)

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._nc is not None:
            await self._nc.close()

    # ---- routing --------------------------------------------------------------------

    def staleness(self, partition: int) -> tuple[int, int] | None:
        """How far this node's copy of ``partition`` may be behind: (ms, entries)."""
        state = self.states[partition]
        return self.following.staleness(state.number, state.placement, self._lease_ms, wall_ms())

    def owner_address(self, partition: int) -> tuple[str, str] | None:
        """The owner of ``partition`` and its address, as last read; None if unknown."""
        state = self.states[partition]
        record = state.placement
        if record is None or record.owner not in self.nodes:
            return None
        if lease_lapsed(record.lease_until_ms, state.placement_ms, self._lease_ms, wall_ms()):
            return None  # the owner is probably gone, a take-over is due
        return record.owner, self.nodes[record.owner].address
