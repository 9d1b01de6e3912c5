"""LangGraph namespace tuples <-> memd namespace strings, and namespace listing.

A LangGraph namespace is a tuple of labels, ``("users", "42", "prefs")``; a memd
namespace is one string. The mapping puts the labels under a root (default
``langgraph``) joined by ``/``::

    ("users", "42", "prefs")  ->  "langgraph/users/42/prefs"

so a memd token granted ``langgraph/*`` opens every LangGraph namespace, and
``langgraph/users/42/*`` one user's. ``/`` may occur inside a label, so labels are
escaped: ``%`` becomes ``%25`` and ``/`` becomes ``%2F`` (and nothing else changes),
which makes the mapping reversible: ``("a/b",)`` is ``"langgraph/a%2Fb"``, never
``("a", "b")``. LangGraph itself forbids empty labels, labels with ``.`` or NUL, and
(for writes) the root label ``"langgraph"``; memd adds its namespace limit of 128
bytes of UTF-8, checked here before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langgraph.store.base import InvalidNamespaceError, ListNamespacesOp, MatchCondition

SEPARATOR = "/"
DEFAULT_ROOT = "langgraph"
MAX_NAMESPACE_BYTES = 128  # memd's limit (proto/memd/v1/memory_service.proto)

Namespace = tuple[str, ...]


def escape_label(label: str) -> str:
    """One label with ``%`` and the separator escaped (``%`` first, so it stays reversible)."""
    return label.replace("%", "%25").replace(SEPARATOR, "%2F")


def unescape_label(text: str) -> str:
    """The inverse of ``escape_label``."""
    return text.replace("%2F", SEPARATOR).replace("%25", "%")


class NamespaceCodec:
    """Maps LangGraph namespaces under one root to memd namespaces and back.

    Args:
        root: The memd namespace prefix every LangGraph namespace goes under; non-empty,
            no NUL. It may itself contain ``/`` (``"team:alpha/langgraph"``).
    """

    def __init__(self, root: str = DEFAULT_ROOT) -> None:
        if not root or "\x00" in root or root.endswith(SEPARATOR):
            raise ValueError(f"root must be non-empty, without NUL or a trailing '/': {root!r}")
        self.root = root
        self._head = root + SEPARATOR

    def encode(self, namespace: Sequence[str]) -> str:
        """The memd namespace of a non-empty LangGraph namespace.

        Raises:
            InvalidNamespaceError: Empty, not valid Unicode, or longer than memd's 128
                bytes once encoded.
        """
        if not namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        name = self._head + SEPARATOR.join(escape_label(label) for label in namespace)
        try:
            size = len(name.encode())
        except UnicodeEncodeError as exc:
            raise InvalidNamespaceError(
                f"Namespace {tuple(namespace)} is not valid Unicode (a lone surrogate)"
            ) from exc
        if size > MAX_NAMESPACE_BYTES:
            raise InvalidNamespaceError(
                f"Namespace {tuple(namespace)} is {size} bytes as the memd namespace "
                f"{name!r}; memd allows at most {MAX_NAMESPACE_BYTES}"
            )
        return name

    def decode(self, name: str) -> Namespace | None:
        """The LangGraph namespace of a memd namespace; None when it is not under the root."""
        if not name.startswith(self._head) or len(name) == len(self._head):
            return None
        return tuple(unescape_label(part) for part in name[len(self._head) :].split(SEPARATOR))

    def under(
        self, names: Iterable[str], prefix: Sequence[str] = ()
    ) -> list[tuple[Namespace, str]]:
        """``(namespace, memd name)`` of the names under ``prefix``, label by label.

        Sorted by namespace tuple: the order in which searches walk namespaces.
        """
        n = len(prefix)
        found = []
        for name in names:
            namespace = self.decode(name)
            if namespace is not None and namespace[:n] == tuple(prefix):
                found.append((namespace, name))
        found.sort()
        return found


def matches(condition: MatchCondition, namespace: Namespace) -> bool:
    """Whether ``namespace`` matches a prefix or suffix condition (``"*"`` matches any label)."""
    path = condition.path
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"Unsupported match type: {condition.match_type}")
    return all(want == "*" or have == want for have, want in pairs)


def list_namespaces(op: ListNamespacesOp, namespaces: Iterable[Namespace]) -> list[Namespace]:
    """What ``op`` returns over these namespaces.

    The matching ones, cut to ``max_depth`` (then deduplicated), sorted, then
    ``offset`` and ``limit`` applied.
    """
    if op.limit < 0 or op.offset < 0:
        raise ValueError(f"limit and offset must be >= 0, got {op.limit} and {op.offset}")
    if op.max_depth is not None and op.max_depth < 1:
        raise ValueError(f"max_depth must be >= 1, got {op.max_depth}")
    conditions = op.match_conditions or ()
    kept = {
        ns if op.max_depth is None else ns[: op.max_depth]
        for ns in namespaces
        if all(matches(c, ns) for c in conditions)
    }
    return sorted(kept)[op.offset : op.offset + op.limit]
