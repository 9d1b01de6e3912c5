"""One LangGraph item as one memd memory, and back.

- key: the memory's ``key``, the same string.
- value (a JSON object): ``value``, its JSON in UTF-8, read back with ``json.loads``,
  so the dict is equal, with its keys in the same order.
- the text at the index's fields: ``text`` (the texts joined by newlines, then a
  marker, below) and, with an ``embed`` function, ``embedding``: one vector of the
  joined text.
- top-level scalar fields: ``metadata`` entries ``"$.<field>"`` ->
  ``filters.encode_scalar(value)``, for memd's native filters.
- ttl (minutes): ``ttl_ms``; no ttl is ``ttl_ms = 0``, never expires.
- created_at, updated_at: ``created_ms``, ``updated_ms`` (memd keeps the creation
  time when a key is stored again).

**The marker.** memd's exact dedup (on by default in the daemon) turns a *new* memory
whose text equals a live one's in the same namespace into an update of that one, which
would make two LangGraph items with the same indexed text one. The text therefore ends
with the key, written in variation selectors (U+FE00..U+FE0F, two per byte): invisible,
and separators to memd's tokenizer, so the key never becomes a search term, but two
keys never share a text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import Item, SearchItem, get_text_at_path, tokenize_path

from memd_client._types import Memory
from memd_client.langgraph.filters import (
    FIELD_PREFIX,
    MAX_LABEL_BYTES,
    OVERFLOW_KEY,
    encode_scalar,
)
from memd_client.langgraph.namespaces import Namespace

MAX_KEY_BYTES = 256  # memd's key limit
MAX_METADATA_ENTRIES = 64  # memd's limit; one is kept for OVERFLOW_KEY
# memd's default text limit is 256 KiB; leave room for the marker (two characters of
# three bytes per key byte). The text only feeds memd's own search: the embedding is
# computed from the whole text.
MAX_TEXT_BYTES = 256 * 1024 - 6 * MAX_KEY_BYTES - 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_key(key: str) -> None:
    """Raise ValueError for a key memd cannot hold: empty, NUL, over 256 bytes, not UTF-8."""
    if not storable_key(key):
        raise ValueError(
            f"key {key!r}: memd keys are 1 to {MAX_KEY_BYTES} bytes of UTF-8 without NUL"
        )


def storable_key(key: str) -> bool:
    """Whether memd can hold ``key`` (a key it cannot hold is never found)."""
    try:
        size = len(key.encode())
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return 0 < size <= MAX_KEY_BYTES and "\x00" not in key


def dump_value(value: Mapping[str, Any]) -> bytes:
    """The JSON of a value; TypeError naming the problem when it is not JSON."""
    if not isinstance(value, Mapping):
        raise TypeError(f"value must be a mapping (dict), got {type(value).__name__}")
    try:
        return json.dumps(dict(value), ensure_ascii=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"value is not JSON-serializable: {exc}") from exc


def load_value(data: bytes) -> dict[str, Any]:
    """The value of a memory written by ``dump_value``."""
    value: dict[str, Any] = json.loads(data)
    return value


def tokenize_fields(fields: list[str] | None) -> list[tuple[str, str | list[str]]]:
    """Index fields as ``(path, tokens)``; ``"$"`` (the whole value) is the default."""
    return [(f, f if f == "$" else tokenize_path(f)) for f in (fields or ["$"])]


def indexed_texts(value: Mapping[str, Any], fields: list[tuple[str, str | list[str]]]) -> list[str]:
    """The texts at ``fields`` (LangGraph's extraction: ``get_text_at_path``)."""
    texts: list[str] = []
    for _path, tokens in fields:
        texts.extend(get_text_at_path(value, tokens))
    return texts


def memory_text(texts: list[str], key: str) -> str:
    """The memory's text: ``texts`` joined by newlines, then the key marker.

    Cut to memd's limit; empty when there is no text (see the module docstring).
    """
    text = "\n".join(texts)
    if not text:
        return ""
    data = text.encode()
    if len(data) > MAX_TEXT_BYTES:
        text = data[:MAX_TEXT_BYTES].decode(errors="ignore")
    marker = "".join(chr(0xFE00 + (b >> 4)) + chr(0xFE00 + (b & 15)) for b in key.encode())
    return f"{text}\n{marker}"


def field_metadata(value: Mapping[str, Any]) -> dict[str, str]:
    """Metadata entries of the value's top-level scalar fields.

    ``filters.split`` asks for the same ones. When memd's 64 entries are not enough,
    ``OVERFLOW_KEY`` marks the memory, and filtered searches fetch such memories
    separately.
    """
    entries: dict[str, str] = {}
    overflow = False
    for field, v in value.items():
        encoded = encode_scalar(v)
        key = FIELD_PREFIX + field
        if encoded is None or len(key.encode()) > MAX_LABEL_BYTES:
            continue  # never a native filter (filters.split skips these too)
        if len(entries) == MAX_METADATA_ENTRIES - 1:
            overflow = True
            break
        entries[key] = encoded
    if overflow:
        entries[OVERFLOW_KEY] = "1"
    return entries


def ttl_ms(ttl_minutes: float | None) -> int:
    """The memd ``ttl_ms`` of LangGraph's ``ttl`` in minutes; None is 0 (never expires).

    Raises:
        ValueError: A TTL that is not positive, or rounds to 0 ms.
    """
    if ttl_minutes is None:
        return 0
    ms = round(ttl_minutes * 60_000)
    if ms <= 0:
        raise ValueError(f"ttl must be a positive number of minutes, got {ttl_minutes!r}")
    return ms


def timestamp(ms: int) -> datetime:
    """A memd time (ms since the epoch) as an aware UTC datetime, exactly."""
    return _EPOCH + timedelta(milliseconds=ms)


def to_item(namespace: Namespace, memory: Memory) -> Item:
    """The LangGraph item a memory holds."""
    return Item(
        value=load_value(memory.value),
        key=memory.key,
        namespace=namespace,
        created_at=timestamp(memory.created_ms),
        updated_at=timestamp(memory.updated_ms),
    )


def to_search_item(item: Item, score: float | None) -> SearchItem:
    """A search result of ``item`` with ``score`` (None: unranked)."""
    return SearchItem(
        namespace=item.namespace,
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=score,
    )
