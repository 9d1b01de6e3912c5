"""Which partition a namespace belongs to, and the names that follow from it.

The hash is part of the wire contract (``ClusterResponse.partition_count``): clients
that route by themselves compute the same one, so it must never change.
"""

from __future__ import annotations

import hashlib

from memd.errors import InvalidArgument

STREAM = "MEMD_LOG"
"""The JetStream stream holding every partition's log."""
SUBJECT_PREFIX = "memd.log."
"""A partition's log subject is this prefix and the partition number."""
BUCKET = "memd_placement"
"""The JetStream KV bucket of the placement map and the node registry."""


def partition_of(namespace: str, count: int) -> int:
    """The partition of ``namespace``: BLAKE2b-64 (big-endian) modulo ``count``."""
    digest = hashlib.blake2b(namespace.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def subject(partition: int) -> str:
    """The log subject of ``partition``."""
    return f"{SUBJECT_PREFIX}{partition}"


def partition_of_subject(name: str) -> int:
    """The partition a log subject belongs to."""
    return int(name.removeprefix(SUBJECT_PREFIX))


def mark_name(partition: int) -> str:
    """The name the engine records the partition's applied sequence under."""
    return f"p{partition}"


def placement_key(partition: int) -> str:
    """The placement bucket key of ``partition``."""
    return f"partition.{partition}"


def node_key(node_id: str) -> str:
    """The placement bucket key of a node's registration."""
    return f"node.{node_id}"


def check_partition(partition: int, count: int) -> None:
    """Refuse a partition number a request names that does not exist (of ``count``).

    Raises:
        InvalidArgument: It is not in 0 to ``count`` - 1.
    """
    if not 0 <= partition < count:
        raise InvalidArgument(f"partition {partition} does not exist (0 to {count - 1})")
