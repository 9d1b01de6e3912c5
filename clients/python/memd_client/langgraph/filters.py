"""Search filters: what memd can test natively, and the exact test of the rest.

LangGraph's filter is a dict over the top-level fields of an item's value: a plain
value is an exact match (``{"color": "red"}``), a dict of operators compares
(``{"score": {"$gte": 3}}``: ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``), a
dict without operators matches nested fields, a list matches element by element.

memd filters by metadata: exact string pairs, tested inside the search before a hit is
scored, so a selective filter still yields ``limit`` hits. Each stored item carries one
metadata entry per top-level scalar field (``values.field_metadata``), so the exact
matches and ``$eq`` on a string, number or boolean go to memd. Everything else
(``$ne``, ranges, nested dicts, lists, ``None``, long strings) is tested here, after the fetch, by
``matches``, which follows ``InMemoryStore``'s semantics; it is applied to every
candidate, native part included, so the native part only ever narrows the fetch.
"""

from __future__ import annotations

import math
from typing import Any

FIELD_PREFIX = "$."  # metadata key of a value field: "$.color"
OVERFLOW_KEY = "$?"  # metadata set when some scalar field had no room for its entry
MAX_LABEL_BYTES = 128  # longest field name or encoded value given to memd's filters

_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def encode_scalar(value: Any) -> str | None:
    """The metadata value of a field value, or None for one memd does not filter.

    Equal values (by Python's ``==``, which the filter semantics use) encode equally:
    ``1``, ``1.0`` and ``True`` all become ``"n:1.0"``; strings get ``"s:"``, so
    ``"1"`` never matches ``1``. Values longer than ``MAX_LABEL_BYTES`` encoded are
    not given to memd (each distinct entry is a label its search index keeps in
    memory): exact matches on long strings are tested after the fetch instead.
    """
    if isinstance(value, str):
        text = "s:" + value
    elif isinstance(value, bool | int | float):
        text = _encode_number(value)
    else:
        return None
    return text if len(text.encode()) <= MAX_LABEL_BYTES else None


def _encode_number(value: bool | int | float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n:nan"  # matches nothing in Python; matches here, the exact test drops it
    try:
        as_float = float(value)
    except OverflowError:  # an int beyond float range equals no float
        return f"i:{value}"
    if as_float != value:  # an int no float equals exactly
        return f"i:{value}"
    return "n:" + repr(as_float + 0.0)  # + 0.0: -0.0 == 0.0, so both encode as 0.0


def split(filter: dict[str, Any] | None) -> dict[str, str]:
    """The part of ``filter`` memd can test: metadata pairs every match satisfies."""
    native: dict[str, str] = {}
    for field, wanted in (filter or {}).items():
        if isinstance(wanted, dict) and "$eq" in wanted:
            wanted = wanted["$eq"]
        elif isinstance(wanted, dict):
            continue
        encoded = encode_scalar(wanted)
        key = FIELD_PREFIX + field
        if encoded is not None and len(key.encode()) <= MAX_LABEL_BYTES:
            native[key] = encoded
    return native


def check(filter: dict[str, Any] | None) -> None:
    """Raise ValueError for an operator LangGraph does not define (before any call)."""
    for wanted in (filter or {}).values():
        _check_value(wanted)


def _check_value(wanted: Any) -> None:
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            for op in wanted:
                if op not in _OPERATORS:
                    raise ValueError(f"Unsupported operator: {op}")
        else:
            for nested in wanted.values():
                _check_value(nested)


def matches(value: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    """Whether an item's value passes ``filter`` (InMemoryStore's semantics)."""
    return all(_compare(value.get(field), wanted) for field, wanted in (filter or {}).items())


def _compare(have: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            return all(_apply(have, op, operand) for op, operand in wanted.items())
        if not isinstance(have, dict):
            return False
        return all(_compare(have.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list | tuple):
        return (
            isinstance(have, list | tuple)
            and len(have) == len(wanted)
            and all(_compare(h, w) for h, w in zip(have, wanted, strict=True))
        )
    return bool(have == wanted)


def _apply(have: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(have == operand)
    if op == "$ne":
        return bool(have != operand)
    # Ranges compare as numbers, like InMemoryStore (and Postgres' JSONB casts). A field
    # that is missing or not a number does not match; InMemoryStore raises instead.
    try:
        a, b = float(have), float(operand)
    except (TypeError, ValueError):
        return False
    if op == "$gt":
        return a > b
    if op == "$gte":
        return a >= b
    if op == "$lt":
        return a < b
    if op == "$lte":
        return a <= b
    raise ValueError(f"Unsupported operator: {op}")


def is_native(filter: dict[str, Any] | None) -> bool:
    """Whether memd's metadata filter (``split``) is the whole of ``filter``."""
    conditions = filter or {}
    plain = all(not isinstance(w, dict) or list(w) == ["$eq"] for w in conditions.values())
    return plain and len(split(filter)) == len(conditions)
