"""The metadata of a call: trace context, the namespace header, a follower-read bound.

- ``memd-namespace``: sent on every call scoped to one namespace, from the same argument
  the request's namespace comes from, so a proxy that hashes a header sends one
  namespace's calls to one node, and a cluster node routes a read without decoding it
  (docs/cluster.md, "Routing"). A single node ignores it; a cluster node refuses a
  header that differs from the body. gRPC carries only printable ASCII in such a
  header, so a namespace with other characters (or edge spaces, which HTTP/2 may trim)
  is sent without it and routed by its body.
- ``memd-max-staleness-ms``: a follower read. A cluster node that follows the
  namespace's partition answers from its own copy when it is at most this far behind
  the owner (docs/cluster.md, "Follower reads"); without it reads go to the owner
  (read-your-writes). A single node ignores it.
"""

from __future__ import annotations

from memd_client._tracing import Metadata, trace_metadata

NAMESPACE_HEADER = "memd-namespace"
MAX_STALENESS = "memd-max-staleness-ms"
_MAX_BOUND_MS = 24 * 3600 * 1000  # the daemon's limit


def routable(namespace: str) -> bool:
    """``namespace`` can travel as a header value (printable ASCII, no edge spaces)."""
    return namespace.isascii() and namespace.isprintable() and namespace == namespace.strip()


def staleness_ms(bound: float | None) -> int | None:
    """A follower-read bound in whole milliseconds, checked like the daemon checks it.

    Raises:
        ValueError: Negative, or more than a day.
    """
    if bound is None:
        return None
    ms = int(bound)
    if not 0 <= ms <= _MAX_BOUND_MS:
        raise ValueError(f"max_staleness_ms must be from 0 to {_MAX_BOUND_MS}, not {bound!r}")
    return ms


def call_metadata(
    namespace: str | None = None, max_staleness: int | None = None
) -> Metadata | None:
    """The metadata of one call: the caller's trace context, the header, the bound."""
    items = list(trace_metadata() or ())
    if namespace and routable(namespace):
        items.append((NAMESPACE_HEADER, namespace))
    if max_staleness is not None:
        items.append((MAX_STALENESS, str(max_staleness)))
    return tuple(items) or None
