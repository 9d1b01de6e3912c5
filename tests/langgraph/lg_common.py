"""Shared settings of the LangGraph store tests, and a deterministic toy embedding.

Each word adds +1 to one of ``DIMS`` buckets and -1 to another, both chosen by its
CRC-32, so texts sharing words point the same way, unrelated texts often have a
negative cosine (which memd clamps and InMemoryStore does not: the tests need both
signs), and the vectors are the same in every process (unlike ``hash``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

from langgraph.store.base import BaseStore

DIMS = 32

# Durable writes are not what these tests are about; short-term capacity 0: unbounded,
# so no item is demoted while a test runs (demotion would not lose it either).
FLAGS = ("--engine-durability", "nosync", "--tiers-short-term-capacity", "0")

MakeStore = Callable[..., BaseStore]


def embed_one(text: str) -> list[float]:
    """The vector of one text."""
    v = [0.0] * DIMS
    for word in re.findall(r"\w+", text.lower()):
        h = zlib.crc32(word.encode())
        v[h % DIMS] += 1.0
        v[(h >> 8) % DIMS] -= 1.0
    return v


def embed(texts: list[str]) -> list[list[float]]:
    """The vectors of texts (LangGraph's embedding function signature)."""
    return [embed_one(t) for t in texts]


INDEX: dict[str, Any] = {"dims": DIMS, "embed": embed, "fields": ["text"]}
