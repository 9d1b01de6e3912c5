"""A routed call's metadata, read in one pass.

Routing a request needs three facts from its metadata: the ``memd-namespace`` header a
client or proxy may route by, a follower-read bound (``memd-max-staleness-ms``), and
the ``memd-forwarded`` mark of a request that already made its one hop; forwarding it
needs the metadata to pass on (the caller's, token included, without the transport's
own keys). ``CallMeta`` collects all four in one walk over the metadata, on the hot
path of every routed call (a forwarded read walked it four times before).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memd.cluster.reads import MAX_STALENESS

FORWARDED = "memd-forwarded"
"""Metadata key marking a forwarded request (its value: the forwarding node's id)."""
NAMESPACE_HEADER = "memd-namespace"
"""Metadata key a client or proxy may route by; it must match the body's namespace."""
# Keys grpc sets itself on the next hop (or the mark, which is set afresh).
DROPPED = ("grpc-", ":", "user-agent", "te", "content-type", FORWARDED)


class CallMeta:
    """What routing needs from one call's metadata.

    Args:
        context: The call's ``grpc.ServicerContext``.
        node_id: This node's id, the value of the mark on a forwarded copy.

    Attributes:
        namespace: The ``memd-namespace`` header, if sent.
        max_staleness: The raw ``memd-max-staleness-ms`` value, if sent (parsed by
            ``reads.parse_max_staleness``, only for reads).
        forwarded: The request was forwarded here by another node.
        relayed: The metadata a forwarded copy carries: the caller's, and the mark.
    """

    __slots__ = ("forwarded", "max_staleness", "namespace", "relayed")

    def __init__(self, context: Any, node_id: str) -> None:
        self.namespace: str | None = None
        self.max_staleness: str | None = None
        self.forwarded = False
        relayed: list[tuple[str, Any]] = []
        for key, value in context.invocation_metadata() or ():
            if key == FORWARDED:
                self.forwarded = True
                continue
            if key == NAMESPACE_HEADER:
                self.namespace = str(value)
            elif key == MAX_STALENESS:
                self.max_staleness = str(value)
            if not key.startswith(DROPPED):
                relayed.append((key, value))
        relayed.append((FORWARDED, node_id))
        self.relayed = relayed


def header_namespace(context: Any) -> str | None:
    """The ``memd-namespace`` metadata value, if the caller sent one."""
    for key, value in context.invocation_metadata() or ():
        if key == NAMESPACE_HEADER:
            return str(value)
    return None


def forwarded(context: Any) -> bool:
    """The request was forwarded by another node."""
    return any(key == FORWARDED for key, _ in context.invocation_metadata() or ())


def node_credentials(token_file: str) -> tuple[tuple[str, str], ...]:
    """The metadata a node sends with its own calls to other nodes: its admin token."""
    if not token_file:
        return ()
    token = Path(token_file).read_text().strip()
    return (("authorization", f"Bearer {token}"),)
