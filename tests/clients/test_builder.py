"""The client's hand-made protobuf encoding of store requests (``memd_client._builder``).

Every encoding must parse, with the generated classes, into exactly the message those
classes build from the same item; and an item they refuse is refused alike.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from memd_client import NewMemory
from memd_client import _builder as build

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.types import Tier

_text = st.text(max_size=300)
_i32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
_items = st.fixed_dictionaries(
    {},
    optional={
        "key": _text,
        "text": _text,
        "value": st.binary(max_size=300),
        "embedding": st.one_of(
            st.lists(st.floats(width=32, allow_nan=False), max_size=40),
            st.binary(max_size=160).map(lambda b: b[: len(b) // 4 * 4]),
            st.none(),
        ),
        "tags": st.lists(_text, max_size=5),
        "metadata": st.dictionaries(_text, _text, max_size=5),
        "importance": st.one_of(st.none(), st.floats(allow_nan=False), st.integers(0, 1)),
        "priority": _i32,
        "ttl_ms": st.one_of(st.none(), st.integers(min_value=0, max_value=2**64 - 1)),
        "tier": st.sampled_from(list(Tier)),
        "history": st.one_of(
            st.none(), st.fixed_dictionaries({"created_ms": st.integers(1, 2**40)})
        ),
        "context": _text,
    },
)


def expected(item: Any) -> mpb.NewMemory:
    return build.new_memory(item)


@given(_items)
@example({"priority": -1, "text": "é" * 200, "ttl_ms": 0, "importance": 0.0})
def test_encode_memory_parses_to_the_generated_message(item: dict[str, Any]) -> None:
    for form in (item, NewMemory(**item)):
        got = mpb.NewMemory.FromString(build.encode_memory(form))
        assert got == expected(form)


@given(st.lists(_items, max_size=4), _text, st.booleans(), st.integers(0, 2**64 - 1))
def test_store_request_parses_to_the_generated_message(
    items: list[dict[str, Any]], namespace: str, atomic: bool, batch_id: int
) -> None:
    got = pb.StoreRequest.FromString(build.store_request(namespace, items, atomic, batch_id))
    want = pb.StoreRequest(
        namespace=namespace,
        memories=[expected(m) for m in items],
        atomic=atomic,
        batch_id=batch_id,
    )
    assert got == want


def test_batches_split_and_number_the_stream() -> None:
    items = [{"text": f"note {i}"} for i in range(5)]
    got = [pb.StoreRequest.FromString(b) for b in build.batches("ns", items, 2, False)]
    assert [len(r.memories) for r in got] == [2, 2, 1]
    assert [r.batch_id for r in got] == [0, 1, 2]
    assert [m.text for r in got for m in r.memories] == [m["text"] for m in items]


@pytest.mark.parametrize(
    ("item", "error"),
    [
        ({"txt": "typo"}, TypeError),
        ({"text": 5}, TypeError),
        ({"embedding": "not floats"}, TypeError),
        ({"priority": 2**31}, ValueError),
        ({"ttl_ms": -1}, ValueError),
        ({"metadata": {"k": 1}}, TypeError),
    ],
)
def test_bad_items_are_refused_as_the_generated_classes_refuse_them(
    item: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        build.new_memory(item)
    with pytest.raises(error):
        build.encode_memory(item)


def test_batch_size_is_checked() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(build.batches("ns", [], 0, False))
