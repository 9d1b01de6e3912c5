"""The line format: every field in a fixed order, and back into the same NewMemory
with its history; malformed lines name what is wrong."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memd._pb.v1 import memory_pb2 as mpb
from memd.history.jsonl import FIELDS, FormatError, decode, encode

u63 = st.integers(0, 2**63 - 1)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


@st.composite
def memories(draw: st.DrawFn) -> mpb.Memory:
    return mpb.Memory(
        namespace=draw(text.filter(bool)),
        key=draw(text),
        text=draw(text),
        value=draw(st.binary(max_size=20)),
        embedding=draw(st.binary(max_size=5).map(lambda b: b * 4)),
        tags=draw(st.lists(text, max_size=3)),
        metadata=draw(st.dictionaries(text, text, max_size=3)),
        importance=draw(st.floats(0, 1, width=32)),
        priority=draw(st.integers(-(2**31), 2**31 - 1)),
        ttl_ms=draw(u63),
        tier=draw(st.integers(1, 4)),  # type: ignore[arg-type]
        expires_at_ms=draw(u63),
        created_ms=draw(u63.filter(bool)),
        updated_ms=draw(u63),
        last_access_ms=draw(u63),
        access_count=draw(u63),
        version=draw(u63),
        context=draw(text),
    )


@given(m=memories())
def test_a_line_reads_back_as_the_memory_it_was(m: mpb.Memory) -> None:
    line = encode(m)
    assert line.endswith("\n") and line.count("\n") == 1
    # Every field in order; context only when there is one (older lines stay the same).
    assert list(json.loads(line)) == [f for f in FIELDS if f != "context" or m.context]
    namespace, item = decode(line)
    assert namespace == m.namespace
    # A Memory parses as a NewMemory: the shared fields (1-10) must agree.
    want = mpb.NewMemory.FromString(m.SerializeToString())
    want.importance = m.importance  # explicit in the line, so set (present) here too
    want.ttl_ms = m.ttl_ms
    want.history.CopyFrom(
        mpb.MemoryHistory(
            created_ms=m.created_ms,
            updated_ms=m.updated_ms,
            last_access_ms=m.last_access_ms,
            access_count=m.access_count,
            version=m.version,
            expires_at_ms=m.expires_at_ms,
        )
    )
    want.DiscardUnknownFields()
    assert item == want
    assert encode(m) == line, "deterministic"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1]", "not a JSON object"),
        ("{", "not JSON"),
        ('{"text": "x"}', "namespace is missing or empty"),
        ('{"namespace": "n", "txt": "x"}', "unknown field 'txt'"),
        ('{"namespace": "n", "priority": true}', "priority must be an integer, got true"),
        ('{"namespace": "n", "value": "***"}', "value is not base64"),
        ('{"namespace": "n", "tags": ["a", 1]}', "tags must be a list of strings"),
        ('{"namespace": "n", "metadata": {"a": 1}}', "metadata values must be strings"),
        ('{"namespace": "n", "tier": 2}', "tier must be one of working, short_term"),
        ('{"namespace": "n", "version": 3}', "created_ms is required with the other history"),
        ('{"namespace": "n", "created_ms": -1}', "Value out of range"),
    ],
)
def test_malformed_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode(line)


def test_only_the_namespace_is_required() -> None:
    namespace, item = decode('{"namespace": "n", "text": "hello"}')
    assert (namespace, item.text, item.HasField("history"), item.HasField("ttl_ms")) == (
        "n",
        "hello",
        False,
        False,
    )
