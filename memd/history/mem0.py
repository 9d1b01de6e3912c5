"""``memd import --from mem0``: memories exported from Mem0 (docs/history.md#from-mem0).

What Mem0 users have is the output of ``get_all()`` saved as JSON: the open-source
``Memory.get_all(...)`` and the platform's ``MemoryClient.get_all(...)`` give
``{"results": [item, ...]}`` (older platform versions a bare list), and a dump of
several calls may be one item per line. Each item is::

    {"id": "…uuid…", "memory": "the user is vegetarian", "hash": "…md5…",
     "metadata": {...} | null, "categories": [...], "created_at": ISO 8601,
     "updated_at": ISO 8601 | null, "expiration_date": "YYYY-MM-DD" | null,
     "user_id": …, "agent_id": …, "run_id": …, "app_id": …, "actor_id": …, "role": …}

and becomes a memd memory with key ``id``, text ``memory``, tags ``categories``,
Mem0's ``metadata`` (non-string values as compact JSON) plus ``mem0.hash`` and the
scoping ids as ``mem0.user_id`` etc., and a history: created at ``created_at``, last
stored at ``updated_at`` (timestamps without a zone are read as UTC), expiring at the
end of ``expiration_date`` (UTC). Vectors are not in Mem0's output: keyword search
works at once, semantic search once embeddings are stored. The namespace is
``agent:A/user:U/run:R`` from the ids present, or ``--namespace`` with ``{user_id}``,
``{agent_id}``, ``{run_id}``, ``{app_id}`` placeholders.
"""

from __future__ import annotations

import datetime as dt
import json
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memd._pb.v1 import memory_pb2 as mpb
from memd.history.jsonl import FormatError
from memd.history.source import Record, epoch_ms, expired

SCOPES = ("user_id", "agent_id", "run_id", "app_id", "actor_id", "role")
"""Mem0's scoping fields, kept as ``mem0.<name>`` metadata."""
_DEFAULT_PARTS = (("agent", "agent_id"), ("user", "user_id"), ("run", "run_id"))
_DAY_MS = 86_400_000


class Mem0Source:
    """A Mem0 ``get_all()`` export, resumable at any item (an index).

    Args:
        path: The JSON (or JSON Lines) file.
        namespace: A template for the namespace (``str.format`` fields from
            ``SCOPES``); empty: ``agent:A/user:U/run:R`` from the ids present.

    Raises:
        FormatError: The file is not a Mem0 export.
        OSError: It cannot be read.
    """

    format = "mem0"

    def __init__(self, path: Path, namespace: str = "") -> None:
        self.items = _load(path)
        self.total = len(self.items)
        self._template = namespace
        fields = {f for _, f, _, _ in string.Formatter().parse(namespace) if f is not None}
        unknown = sorted(fields - set(SCOPES))
        if unknown:
            raise FormatError(f"--namespace: unknown field {{{unknown[0]}}} (known: {SCOPES})")

    def records(self, position: int, line: int) -> Iterator[Record]:
        """The items from index ``position`` on (``line`` is the same number here)."""
        now_ms = time.time_ns() // 1_000_000
        for index in range(position, len(self.items)):
            item = self.items[index]
            ident = item.get("id") if isinstance(item, dict) else None
            label = f"item {index + 1}" + (f" (id {ident})" if ident else "")
            try:
                namespace, memory = self._convert(item)
            except FormatError as exc:
                yield Record(label, index + 1, index + 1, error=str(exc))
                continue
            if expired(memory, now_ms):
                yield Record(label, index + 1, index + 1, namespace, skip="expired")
                continue
            yield Record(label, index + 1, index + 1, namespace, memory)

    def _convert(self, item: Any) -> tuple[str, mpb.NewMemory]:
        if not isinstance(item, dict):
            raise FormatError("not a JSON object")
        text = item.get("memory")
        if not isinstance(text, str) or not text:
            raise FormatError("no memory text")
        scopes = {k: str(item[k]) for k in SCOPES if item.get(k) not in (None, "")}
        memory = mpb.NewMemory(
            key=str(item.get("id") or ""),
            text=text,
            tags=[str(c) for c in item.get("categories") or []],
            metadata=_metadata(item, scopes),
        )
        created = _ms(item, "created_at")
        if created is not None:
            updated = max(_ms(item, "updated_at") or created, created)
            memory.history.CopyFrom(mpb.MemoryHistory(created_ms=created, updated_ms=updated))
            expires = _expiration(item)
            if expires is not None:
                memory.history.expires_at_ms = expires
                memory.ttl_ms = max(expires - updated, 1)
        return self._namespace(scopes), memory

    def _namespace(self, scopes: dict[str, str]) -> str:
        if self._template:
            try:
                return self._template.format(**scopes)
            except KeyError as exc:
                raise FormatError(f"no {exc.args[0]} for --namespace") from None
        parts = [f"{name}:{scopes[k]}" for name, k in _DEFAULT_PARTS if k in scopes]
        if not parts:
            raise FormatError("no user_id, agent_id or run_id: pass --namespace")
        return "/".join(parts)


def _load(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise FormatError(f"{path} is not JSON: {exc}") from None
        # JSON Lines: one item (or one get_all() reply) per line.
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [item for d in docs for item in _items(d, path)]
    return _items(doc, path)


def _items(doc: Any, path: Path) -> list[Any]:
    if isinstance(doc, dict) and isinstance(doc.get("results"), list):
        return list(doc["results"])
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and "memory" in doc:
        return [doc]
    raise FormatError(f'{path}: expected Mem0 get_all() output: {{"results": [...]}} or a list')


def _metadata(item: dict[str, Any], scopes: dict[str, str]) -> dict[str, str]:
    own = item.get("metadata") or {}
    if not isinstance(own, dict):
        raise FormatError("metadata is not an object")
    out = {
        str(k): v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), sort_keys=True)
        for k, v in own.items()
    }
    out.update({f"mem0.{k}": v for k, v in scopes.items()})
    if item.get("hash"):
        out["mem0.hash"] = str(item["hash"])
    return out


def _ms(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    if value in (None, ""):
        return None
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise FormatError(f"{name} {value!r} is not an ISO 8601 time") from None
    return epoch_ms(when)


def _expiration(item: dict[str, Any]) -> int | None:
    value = item.get("expiration_date")
    if value in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise FormatError(f"expiration_date {value!r} is not a date") from None
    # The memory lives through that day (UTC).
    return epoch_ms(dt.datetime.combine(day, dt.time())) + _DAY_MS
