"""The memd history format: JSON Lines, one memory per line, every field.

``memd export`` writes it and ``memd import`` reads it (docs/history.md). A line is a
JSON object with the fields of ``memd.v1.Memory`` under their proto names, in the
order of ``FIELDS``: bytes (``value``, ``embedding``: packed little-endian float32) as
standard base64, ``tier`` by name (``working`` ... ``archive``), times in ms since the
Unix epoch. Output is deterministic (fixed field order, metadata sorted by key, no
spaces, UTF-8), so exporting the same memories twice gives the same bytes.

On input every field but ``namespace`` may be left out (a hand-made or converted
file); the history fields (``created_ms`` and the ones after it) need ``created_ms``,
and without them the memory is stored as a write happening now.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from memd._pb.v1 import memory_pb2 as mpb
from memd.config_parse import TIER_NAMES

FIELDS = (
    "namespace",
    "key",
    "text",
    "value",
    "embedding",
    "tags",
    "metadata",
    "importance",
    "priority",
    "ttl_ms",
    "tier",
    "expires_at_ms",
    "created_ms",
    "updated_ms",
    "last_access_ms",
    "access_count",
    "version",
    "context",
)
"""Every field of a line, in the order ``encode`` writes them (``context`` only when
the memory has one, so lines of memories without one are as before it existed)."""

_HISTORY = ("created_ms", "updated_ms", "last_access_ms", "access_count", "version")
_KNOWN = frozenset(FIELDS)
_TIER_OF = {name: number for number, name in enumerate(TIER_NAMES, start=1)}


class FormatError(ValueError):
    """A line that is not a memory in this format; the message says which field."""


def encode(m: mpb.Memory) -> str:
    """One line (with its newline) for a memory as ``List`` or ``Retrieve`` returns it."""
    line = {
        "namespace": m.namespace,
        "key": m.key,
        "text": m.text,
        "value": _b64(m.value),
        "embedding": _b64(m.embedding),
        "tags": list(m.tags),
        "metadata": dict(sorted(m.metadata.items())),
        "importance": m.importance,
        "priority": m.priority,
        "ttl_ms": m.ttl_ms,
        "tier": TIER_NAMES[m.tier - 1] if 1 <= m.tier <= len(TIER_NAMES) else m.tier,
        "expires_at_ms": m.expires_at_ms,
        "created_ms": m.created_ms,
        "updated_ms": m.updated_ms,
        "last_access_ms": m.last_access_ms,
        "access_count": m.access_count,
        "version": m.version,
    }
    if m.context:
        line["context"] = m.context
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


def decode(line: str | bytes) -> tuple[str, mpb.NewMemory]:
    """The namespace and the ``NewMemory`` (with its history) of one line.

    Raises:
        FormatError: Not a JSON object, an unknown field, or a field of the wrong type.
    """
    try:
        doc = json.loads(line)
    except ValueError as exc:
        raise FormatError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise FormatError("not a JSON object")
    unknown = sorted(doc.keys() - _KNOWN)
    if unknown:
        raise FormatError(f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
    namespace = _typed(doc, "namespace", str, "")
    if not namespace:
        raise FormatError("namespace is missing or empty")
    try:
        item = mpb.NewMemory(
            key=_typed(doc, "key", str, ""),
            text=_typed(doc, "text", str, ""),
            context=_typed(doc, "context", str, ""),
            value=_unb64(doc, "value"),
            embedding=_unb64(doc, "embedding"),
            tags=_strings(doc),
            metadata=_metadata(doc),
            priority=_typed(doc, "priority", int, 0),
            tier=_tier(doc.get("tier")),  # type: ignore[arg-type]
        )
        if "importance" in doc:
            item.importance = _typed(doc, "importance", (int, float), 0.0)
        if "ttl_ms" in doc:
            item.ttl_ms = _typed(doc, "ttl_ms", int, 0)
        history = {name: _typed(doc, name, int, 0) for name in _HISTORY if name in doc}
        if history or "expires_at_ms" in doc:
            if "created_ms" not in history:
                raise FormatError("created_ms is required with the other history fields")
            item.history.CopyFrom(
                mpb.MemoryHistory(expires_at_ms=_typed(doc, "expires_at_ms", int, 0), **history)
            )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, FormatError):
            raise
        # Out of range for the proto type (a negative time, a huge number).
        raise FormatError(str(exc)) from None
    return namespace, item


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _unb64(doc: dict[str, Any], name: str) -> bytes:
    text = _typed(doc, name, str, "")
    try:
        # Strict: padding and the alphabet are checked (b64decode(validate=True) is the
        # same check, a third slower, which shows with vectors of 1.5 KB).
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{name} is not base64: {exc}") from None


def _typed(doc: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = doc.get(name, default)
    # bool is an int to Python, never a number here.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FormatError(f"{name} must be {_kind_name(kind)}, got {json.dumps(value)[:40]}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _strings(doc: dict[str, Any]) -> list[str]:
    tags: list[Any] = _typed(doc, "tags", list, [])
    if not all(isinstance(t, str) for t in tags):
        raise FormatError("tags must be a list of strings")
    return tags


def _metadata(doc: dict[str, Any]) -> dict[str, str]:
    metadata: dict[str, Any] = _typed(doc, "metadata", dict, {})
    if not all(isinstance(v, str) for v in metadata.values()):
        raise FormatError("metadata values must be strings")
    return metadata


def _tier(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value in _TIER_OF:
        return _TIER_OF[value]
    raise FormatError(f"tier must be one of {', '.join(TIER_NAMES)}, got {json.dumps(value)}")
