"""``Engine.store_encoded_group``: cluster mode's group commit of Stores (grouped.rs).

A group must leave the store byte for byte as the same Stores applied one after the
other would, each request getting the reply or error it would have got alone, and
record its mark even when every request was refused.
"""

from __future__ import annotations

import array
from collections.abc import Callable
from typing import Any

import pytest

import memd
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.errors import InvalidArgument, Unavailable

NS = "group:unit"
NOW = 1_800_000_000_000


def _req(*memories: mpb.NewMemory, ns: str = NS, atomic: bool = False) -> bytes:
    return pb.StoreRequest(namespace=ns, memories=memories, atomic=atomic).SerializeToString()


def _vec(*xs: float) -> bytes:
    return array.array("f", xs).tobytes()


def _requests() -> list[bytes]:
    """Good batches, a duplicate key across batches, and three refused as a whole."""
    return [
        _req(mpb.NewMemory(key="a", text="first", embedding=_vec(1, 0, 0))),
        _req(mpb.NewMemory(key="b", text="second"), mpb.NewMemory(key="c", text="")),
        # refused before the writer: an atomic batch with an invalid item
        _req(mpb.NewMemory(key="x", text="ok"), mpb.NewMemory(key="y"), atomic=True),
        _req(mpb.NewMemory(key="a", text="first, again")),  # an update of "a"
        # refused in the writer: a dimension mismatch in an atomic batch
        _req(mpb.NewMemory(key="z", text="bad dim", embedding=_vec(1, 0)), atomic=True),
        _req(mpb.NewMemory(key="d", text="after the refused one")),
        _req(mpb.NewMemory(key="e", text="bad namespace"), ns=""),
    ]


def _outcome(one: tuple[bytes, int] | Exception) -> Any:
    if isinstance(one, Exception):
        return (type(one).__name__, str(one))
    return pb.StoreResponse.FromString(one[0]), one[1]


def test_a_group_is_the_same_stores_one_after_the_other(
    make_engine: Callable[..., memd.Engine], tmp_path: Any, witness: Callable[..., Any]
) -> None:
    alone = make_engine(path=tmp_path / "alone")
    expected: list[Any] = []
    for request in _requests():
        try:
            expected.append(_outcome(alone.store_encoded(request, now_ms=NOW)))
        except Exception as exc:
            expected.append(_outcome(exc))
    grouped = make_engine(path=tmp_path / "grouped")
    out = grouped.store_encoded_group(
        _requests(), [None] * len(_requests()), now_ms=NOW, mark=("p", 7)
    )
    assert [_outcome(o) for o in out] == expected
    # three refused alone, their neighbours stored; "a" updated by the later batch
    assert [type(o).__name__ for o in out if isinstance(o, Exception)] == [
        "InvalidArgument",
        "InvalidArgument",
        "InvalidArgument",
    ]
    assert grouped.applied("p") == 7
    alone.close()
    grouped.close()
    assert witness(tmp_path / "grouped")["memories"] == witness(tmp_path / "alone")["memories"]


def test_a_batch_after_a_refused_one_of_its_stream_is_skipped(engine: memd.Engine) -> None:
    requests = _requests()
    # 3 follows 2 (refused before the writer), 5 follows 4 (refused in the writer),
    # 1 follows 0 (stored): only 3 and 5 are skipped, and nothing of them is stored.
    after = [None, 0, None, 2, None, 4, None]
    out = engine.store_encoded_group(requests, after, now_ms=NOW, mark=("p", 3))
    kinds = [type(o).__name__ if isinstance(o, Exception) else "ok" for o in out]
    refused, skipped = "InvalidArgument", "Unavailable"
    assert kinds == ["ok", "ok", refused, skipped, refused, skipped, refused]
    assert isinstance(out[3], Unavailable) and "earlier batch" in str(out[3])
    stored = engine.get(NS, "a")
    assert stored is not None and stored.text == "first"
    assert engine.get(NS, "d") is None


def test_a_group_refused_whole_still_records_its_mark(engine: memd.Engine) -> None:
    bad = [_req(mpb.NewMemory(key="e", text="x"), ns=""), b"\xff\xff not protobuf"]
    out = engine.store_encoded_group(bad, [None, None], now_ms=NOW, mark=("p", 11))
    assert all(isinstance(o, InvalidArgument) for o in out)
    assert engine.applied("p") == 11
    assert engine.namespaces() == []


def test_a_malformed_after_is_refused_and_changes_nothing(engine: memd.Engine) -> None:
    requests = _requests()[:2]
    for after in ([None], [None, 1], [None, 5]):
        with pytest.raises(InvalidArgument):
            engine.store_encoded_group(requests, after, now_ms=NOW, mark=("p", 2))
    assert engine.applied("p") == 0
    assert engine.namespaces() == []
