"""Random bytes and random field values to every method: never INTERNAL, never UNKNOWN.

Requests are built from the service's descriptors, so every field of every request
type gets values (huge uint64s, NaN and infinite doubles, long and odd-unicode
strings, unknown enum numbers, random embeddings), and a method or field added to the
proto is fuzzed without touching this file. Next to typed messages go raw bytes:
random ones, and valid messages with a byte changed or cut short.

The property: no answer is INTERNAL or UNKNOWN, and a rejected request changed
nothing (``state.snapshot`` before and after; an accepted one may change anything, so
the next example starts from a fresh snapshot). Streaming methods get one message, so
that a rejection is all of the call. One daemon serves the module; background jobs are
off so that only requests change it; the seeded namespace is put back when dropped.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon
from .state import QUIET, snapshot

SERVICE = pb.DESCRIPTOR.services_by_name["MemoryService"]
METHODS = [m.name for m in SERVICE.methods]
SEEDED = "seed"
BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
F = d.FieldDescriptor


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("fuzz")
    flags = ("--max-message-bytes", "256KiB", "--max-batch-items", "20")
    dm = Daemon(root / "data", *QUIET, *flags, "--backup-dir", str(root / "backups"))
    yield dm
    dm.close()


def reseed(dm: Daemon) -> None:
    """Put the seeded namespace back if an accepted DropNamespace or Delete emptied it."""
    if SEEDED in dm.stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces:
        return
    memories = [
        mpb.NewMemory(key="a", text="apples", embedding=struct.pack("<2f", 1, 0), tags=["t"]),
        mpb.NewMemory(key="b", value=b"\x00\xff", metadata={"k": "v"}, importance=0.9),
    ]
    dm.stub.Store(pb.StoreRequest(namespace=SEEDED, memories=memories))


# --- values for every field type -----------------------------------------------------------


# Each field is plausible nine times in ten and extreme otherwise: a request with
# many fields must often pass validation, or the engine past it would go untested.


def sometimes(plausible: st.SearchStrategy[Any], extreme: st.SearchStrategy[Any]) -> Any:
    """``plausible`` nine times in ten, else ``extreme``."""
    return st.integers(0, 9).flatmap(lambda n: extreme if n == 0 else plausible)


def _ints(bits: int, signed: bool, plausible: st.SearchStrategy[int]) -> Any:
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    edges = [lo, hi, 2**31 - 1, 2**31, 2**53, 2**63 - 1, 2**63]
    extreme = st.sampled_from([e for e in edges if lo <= e <= hi]) | st.integers(lo, hi)
    return sometimes(plausible, extreme)


ODD = ["", "\u0000", "\U0001f600" * 3, "e\u0301", "\u202e", "x" * 5000]
WORDS = st.sampled_from(["apples", "red", "note", "t", "k", "a", "b"])
TEXT = sometimes(WORDS, st.text(max_size=24) | st.sampled_from(ODD))
NAMESPACES = sometimes(
    st.sampled_from([SEEDED, SEEDED, "other"]),
    st.sampled_from(["", "team:a/x", "n" * 300]) | st.text(max_size=24),
)
PATHS = sometimes(
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3).map("/".join),
    st.sampled_from(["", ".", "..", "/abs", "a/../b", "a\x00b", "x" * 300, "d/" * 2100])
    | st.lists(st.sampled_from(["a", ".", "..", "", "x" * 256]) | TEXT, max_size=4).map("/".join),
)
VECTORS = sometimes(
    st.lists(st.floats(-1, 1, width=32), min_size=2, max_size=2),
    st.lists(st.floats(width=32), max_size=5),
).map(lambda v: struct.pack(f"<{len(v)}f", *v))
UNIT = st.floats(0, 1)
SCALARS: dict[int, Any] = {
    F.TYPE_UINT64: _ints(64, False, st.integers(0, 2**41)),  # times in ms up to 2039
    F.TYPE_FIXED64: _ints(64, False, st.integers(0, 2**41)),
    F.TYPE_UINT32: _ints(32, False, st.integers(0, 1_000)),
    F.TYPE_FIXED32: _ints(32, False, st.integers(0, 1_000)),
    F.TYPE_INT64: _ints(64, True, st.integers(-10, 10)),
    F.TYPE_SINT64: _ints(64, True, st.integers(-10, 10)),
    F.TYPE_INT32: _ints(32, True, st.integers(-10, 10)),
    F.TYPE_SINT32: _ints(32, True, st.integers(-10, 10)),
    F.TYPE_DOUBLE: sometimes(UNIT, st.floats() | st.sampled_from([math.nan, -0.0, 1e308])),
    F.TYPE_FLOAT: sometimes(st.floats(0, 1, width=32), st.floats(width=32)),
    F.TYPE_BOOL: st.booleans(),
    F.TYPE_BYTES: sometimes(st.binary(max_size=16), st.binary(max_size=300)),
}


def scalar(f: d.FieldDescriptor) -> Any:
    """Values for one non-repeated, non-message field, shaped by its name where that helps."""
    if f.type == F.TYPE_STRING:
        return {"namespace": NAMESPACES, "path": PATHS}.get(f.name, TEXT)
    if f.type == F.TYPE_ENUM:  # unknown numbers too: proto3 enums are open
        known = [v.number for v in f.enum_type.values]
        return sometimes(st.sampled_from(known), st.integers(-2, max(known) + 3))
    if f.name == "embedding":
        return sometimes(VECTORS, st.binary(max_size=16))
    return SCALARS[f.type]


def field(f: d.FieldDescriptor) -> Any:
    """Values for field ``f``: maps as dicts, repeated fields as short lists."""
    if f.type == F.TYPE_MESSAGE and f.message_type.GetOptions().map_entry:
        key, value = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
        return st.dictionaries(scalar(key), scalar(value), max_size=3)
    one = messages(f.message_type) if f.type == F.TYPE_MESSAGE else scalar(f)
    return st.lists(one, max_size=4) if f.is_repeated else one


@functools.cache
def messages(desc: d.Descriptor) -> st.SearchStrategy[Message]:
    """Messages of type ``desc`` with any subset of their fields set to random values.

    A ``namespace`` is nearly always set: without one, every call stops at the first check.
    """
    cls = message_factory.GetMessageClass(desc)
    fields = {f.name: field(f) for f in desc.fields}
    required = {k: fields.pop(k) for k in ["namespace"] if k in fields}

    def build(values: dict[str, Any]) -> Message:
        return cls(**values)

    return st.fixed_dictionaries(required, optional=fields).map(build)


def corrupted(valid: bytes, data: st.DataObject) -> bytes:
    """``valid`` with one byte changed, or cut short."""
    if not valid:
        return data.draw(st.binary(min_size=1, max_size=8))
    at = data.draw(st.integers(0, len(valid) - 1))
    if data.draw(st.booleans()):
        return valid[:at]
    return valid[:at] + bytes([data.draw(st.integers(0, 255))]) + valid[at + 1 :]


# --- the property ---------------------------------------------------------------------------


def call(dm: Daemon, method: str, payload: bytes) -> tuple[grpc.StatusCode, str]:
    """Send ``payload`` as the request of ``method``; the status and its message."""
    m = SERVICE.methods_by_name[method]
    path = f"/{SERVICE.full_name}/{method}"
    try:
        if m.client_streaming:
            list(dm.channel.stream_stream(path)(iter([payload]), timeout=30))
        elif m.server_streaming:
            list(dm.channel.unary_stream(path)(payload, timeout=30))
        else:
            dm.channel.unary_unary(path)(payload, timeout=30)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def check(dm: Daemon, method: str, payload: bytes) -> None:
    """The property for one request (see the module docstring)."""
    reseed(dm)
    before = snapshot(dm, (SEEDED,))
    code, details = call(dm, method, payload)
    assert code not in BAD, f"{method}({payload[:200]!r}) -> {code.name}: {details}"
    if code != grpc.StatusCode.OK:
        assert snapshot(dm, (SEEDED,)) == before, f"{method} rejected ({code.name}) but changed"


@pytest.mark.parametrize("method", METHODS)
@given(data=st.data())
def test_random_messages_never_fail_inside_and_rejections_change_nothing(
    daemon: Daemon, method: str, data: st.DataObject
) -> None:
    request = data.draw(messages(SERVICE.methods_by_name[method].input_type), label="request")
    check(daemon, method, request.SerializeToString())


@pytest.mark.parametrize("method", METHODS)
@given(data=st.data())
def test_random_bytes_never_fail_inside_and_rejections_change_nothing(
    daemon: Daemon, method: str, data: st.DataObject
) -> None:
    if data.draw(st.booleans()):
        payload = data.draw(st.binary(max_size=128), label="bytes")
    else:
        valid = data.draw(messages(SERVICE.methods_by_name[method].input_type))
        payload = corrupted(valid.SerializeToString(), data)
    check(daemon, method, payload)
