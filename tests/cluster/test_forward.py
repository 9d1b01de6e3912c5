"""The forwarder's raw-bytes calls through the Rust relay, against a real grpcio server.

The server stands in for a partition's owner (``memd.v1.MemoryService`` paths, raw
bytes); the forwarder is the one a cluster node uses. ``test_units.py`` covers the
read's resend with a doubled bound.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from memd.cluster.forward import Forwarder
from memd.errors import CapacityExceeded, InvalidArgument, NotFound, Unavailable


class _Caller:
    """The parts of a servicer context the forwarder reads."""

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [("authorization", "Bearer t"), ("memd-namespace", "ns")]

    def time_remaining(self) -> float:
        return 10.0


class _Owner:
    """Store echoes, waits (request b"wait") until released, or fails (b"CODE:msg")."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.cancelled = threading.Event()
        self.seen: list[dict[str, str]] = []

    def store(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.seen.append(dict(context.invocation_metadata()))  # type: ignore[arg-type]
        if request == b"wait":
            context.add_callback(self.cancelled.set)
            self.release.wait(10)
            return b"released"
        if b":" in request:
            code, message = request.decode().split(":", 1)
            context.abort(grpc.StatusCode[code], message)
        return b"stored:" + request


@pytest.fixture
def owner() -> Iterator[tuple[_Owner, tuple[str, str]]]:
    handlers = _Owner()
    server = grpc.server(ThreadPoolExecutor(4))
    method = grpc.unary_unary_rpc_method_handler(handlers.store)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("memd.v1.MemoryService", {"Store": method}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield handlers, ("n1", f"127.0.0.1:{port}")
    handlers.release.set()
    server.stop(None)


@pytest.fixture
def fwd() -> Iterator[Forwarder]:
    forwarder = Forwarder("n0", 1 << 10)
    yield forwarder
    forwarder.close()


def test_a_forwarded_store_returns_the_owner_s_bytes_with_the_caller_s_metadata(
    owner: tuple[_Owner, tuple[str, str]], fwd: Forwarder
) -> None:
    handlers, node = owner
    assert fwd.unary(node, "Store", b"abc", _Caller(), lambda: True) == b"stored:abc"
    seen = handlers.seen[-1]
    assert seen["authorization"] == "Bearer t" and seen["memd-forwarded"] == "n0"
    assert seen["memd-namespace"] == "ns"


@pytest.mark.parametrize(
    ("request_bytes", "error", "message"),
    [
        (b"NOT_FOUND:no namespace \xc3\xa9", NotFound, "no namespace é"),
        (b"INVALID_ARGUMENT:bad key", InvalidArgument, "bad key"),
        (b"UNAVAILABLE:draining", Unavailable, "owner node n1: UNAVAILABLE: draining"),
        (b"x" * 2000, CapacityExceeded, "Sent message larger than max"),
    ],
)
def test_a_forwarded_store_fails_with_the_owner_s_status(
    owner: tuple[_Owner, tuple[str, str]],
    fwd: Forwarder,
    request_bytes: bytes,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        fwd.unary(owner[1], "Store", request_bytes, _Caller(), lambda: True)


def test_a_store_whose_owner_lost_the_partition_is_cancelled_not_sent_again(
    owner: tuple[_Owner, tuple[str, str]], fwd: Forwarder
) -> None:
    handlers, node = owner
    polls = iter([True, True, True, False])  # the lease lapses at the fourth poll
    with pytest.raises(Unavailable, match="may or may not have been applied"):
        fwd.unary(node, "Store", b"wait", _Caller(), lambda: next(polls))
    assert handlers.cancelled.wait(5)  # the owner saw the stream reset
    assert len(handlers.seen) == 1  # sent once, over all the polls


def test_a_slow_store_whose_owner_keeps_the_partition_completes(
    owner: tuple[_Owner, tuple[str, str]], fwd: Forwarder
) -> None:
    handlers, node = owner
    polls = 0

    def still() -> bool:
        nonlocal polls
        polls += 1
        if polls == 3:
            handlers.release.set()
        return True

    assert fwd.unary(node, "Store", b"wait", _Caller(), still) == b"released"
    assert polls >= 3 and len(handlers.seen) == 1
