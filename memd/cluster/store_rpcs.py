"""Store and StoreStream in cluster mode: through the partition's group commit.

A mixin of ``ClusterMemoryServicer``. A Store is validated here (the keys it left empty
are made here, by ``_core.fill_store_keys``, so that every replica stores the same
ones), routed, and either forwarded to its partition's owner (one hop) or queued for
the partition's next append (``group_commit.py``) and acknowledged once applied.
StoreStream reads its batches ahead so that one stream's batches are grouped too
(``store_stream.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

from memd._core import fill_store_keys
from memd.cluster.entry import wall_ms
from memd.cluster.forward import Forwarder
from memd.cluster.group_commit import StoreGroups
from memd.cluster.store_stream import PreparedStore, store_stream
from memd.errors import CapacityExceeded
from memd.server.servicer import _DRAINING
from memd.server.status import DrainState, ServerDraining


class StoreHandlers:
    """Store and StoreStream, over the cluster servicer's groups and forwarder."""

    groups: StoreGroups
    _fwd: Forwarder
    _max_items: int
    _items: Any
    _drain: DrainState
    # ClusterMemoryServicer's (declared, not defined: see EffectHandlers).
    _owner: Callable[..., tuple[int, tuple[str, str] | None]]
    _still: Callable[[int, tuple[str, str]], Callable[[], bool]]

    def Store(self, request: bytes, context: Any) -> bytes:
        """Store one batch through the partition's log; reply once applied here."""
        store = self.prepare_store(request, context)
        if store.owner is not None:
            return self.forward_store(store, request, context)
        reply = self.groups.store(store.partition, store.payload, store.now_ms)
        self.stored(store)
        return reply

    def StoreStream(self, request_iterator: Iterator[bytes], context: Any) -> Iterator[bytes]:
        """Store each batch, read ahead so that batches are grouped (``store_stream.py``)."""
        return store_stream(self, request_iterator, context)

    # ---- what StoreStream needs (store_stream.StoreServing) ---------------------------

    def prepare_store(self, request: bytes, context: Any) -> PreparedStore:
        """Fill in the missing keys, check the size and route a Store."""
        now = wall_ms()
        payload, namespace, items = fill_store_keys(request, now)
        if items > self._max_items:
            raise CapacityExceeded(f"{items} items in one message; the limit is {self._max_items}")
        partition, owner = self._owner("Store", namespace, context)
        return PreparedStore(partition, owner, payload, now, items)

    def forward_store(self, store: PreparedStore, request: bytes, context: Any) -> bytes:
        """The reply of the owner of ``store``'s partition (the request as sent)."""
        owner = cast(tuple[str, str], store.owner)
        still = self._still(store.partition, owner)
        return cast(bytes, self._fwd.unary(owner, "Store", request, context, still))

    def stored(self, store: PreparedStore) -> None:
        """Count a Store applied here."""
        self._items["Store"].observe(store.items)

    def check_draining(self) -> None:
        """Raise ``ServerDraining`` if the server no longer accepts batches."""
        if self._drain.draining:
            raise ServerDraining(_DRAINING)
