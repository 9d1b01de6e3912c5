"""The Rust relay (``memd._core.relay_unary``) against a real grpcio server.

The server runs in this process (grpcio's own threads) with generic handlers: echo,
fail with a status, sleep, reply big, report the metadata it received. Each reply the
relay gets is compared with what grpcio's own client gets from the same server.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from memd._core import relay_start, relay_unary
from memd.errors import InvalidArgument

OK, CANCELLED, DEADLINE, RESOURCE = 0, 1, 4, 8
UNIMPLEMENTED, UNAVAILABLE = 12, 14
LIMIT = 4 << 20


class Handlers:
    """What the test server does, and what it saw."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def echo(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        context.send_initial_metadata((("x-initial", "hello"),))
        context.set_trailing_metadata((("memd-read-from", "owner"), ("x-trace-bin", b"\x00\xff")))
        return b"echo:" + request

    def fail(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        code, message = request.decode().split(":", 1)
        context.abort(grpc.StatusCode[code], message)

    def sleep(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        context.add_callback(self.cancelled.set)
        threading.Event().wait(float(request))
        return b"late"

    def big(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return b"b" * int(request)

    def meta(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        seen = {k: v.hex() if isinstance(v, bytes) else v for k, v in context.invocation_metadata()}
        return json.dumps({**seen, "time_remaining": context.time_remaining()}).encode()


def start_server(handlers: Handlers, port: int = 0) -> tuple[grpc.Server, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(32),
        options=[("grpc.max_receive_message_length", 64 << 20), ("grpc.so_reuseport", 0)],
    )
    methods = {
        name: grpc.unary_unary_rpc_method_handler(getattr(handlers, name))
        for name in ("echo", "fail", "sleep", "big", "meta")
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.T", methods),))
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, port


@pytest.fixture(scope="module")
def handlers() -> Handlers:
    return Handlers()


@pytest.fixture(scope="module")
def address(handlers: Handlers) -> Iterator[str]:
    server, port = start_server(handlers)
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture(scope="module")
def direct(address: str) -> Iterator[grpc.Channel]:
    channel = grpc.insecure_channel(address, [("grpc.max_receive_message_length", 64 << 20)])
    yield channel
    channel.close()


def call(address: str, method: str, request: bytes, metadata=(), timeout=10.0, limit=LIMIT):  # type: ignore[no-untyped-def]
    return relay_unary(address, f"/t.T/{method}", list(metadata), request, timeout, limit)


@pytest.mark.parametrize("size", [0, 1, 100_000, 3 << 20])
def test_an_ok_reply_is_the_bytes_grpcio_gets(
    address: str, direct: grpc.Channel, size: int
) -> None:
    request = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    code, message, body, metadata = call(address, "echo", request)
    assert (code, message) == (OK, "")
    assert body == direct.unary_unary("/t.T/echo")(request, timeout=10)
    assert ("x-initial", b"hello") in metadata
    assert ("memd-read-from", b"owner") in metadata
    assert ("x-trace-bin", b"AP8") in metadata or ("x-trace-bin", b"AP8=") in metadata


@pytest.mark.parametrize(
    ("status", "text"),
    [("NOT_FOUND", "no such namespace"), ("INVALID_ARGUMENT", "naïve — ünïcode 100% ✓")],
)
def test_an_error_status_and_message_come_back_as_sent(
    address: str, direct: grpc.Channel, status: str, text: str
) -> None:
    code, message, body, _ = call(address, "fail", f"{status}:{text}".encode())
    assert (code, message, body) == (grpc.StatusCode[status].value[0], text, b"")
    with pytest.raises(grpc.RpcError) as caught:
        direct.unary_unary("/t.T/fail")(f"{status}:{text}".encode(), timeout=10)
    assert (caught.value.code().value[0], caught.value.details()) == (code, message)  # type: ignore[attr-defined]


def test_a_trailers_only_reply_carries_its_status(address: str) -> None:
    code, _, body, _ = call(address, "nothing", b"")
    assert (code, body) == (UNIMPLEMENTED, b"")


def test_metadata_and_the_deadline_arrive(address: str) -> None:
    sent = [
        ("authorization", "Bearer secret"),
        ("memd-namespace", "ns"),
        ("x-id-bin", b"\x00\x01\xfe"),
    ]
    code, _, body, _ = call(address, "meta", b"", sent, timeout=7.0)
    assert code == OK
    seen = json.loads(body)
    assert seen["authorization"] == "Bearer secret"
    assert seen["memd-namespace"] == "ns"
    assert seen["x-id-bin"] == "0001fe"  # grpcio decoded the base64
    assert 5.0 < seen["time_remaining"] <= 7.0


@pytest.mark.parametrize(
    "metadata",
    [[("Upper", "x")], [("grpc-timeout", "1S")], [("x", "é")], [("x", "a\nb")], [("x", 3)]],
)
def test_metadata_http2_cannot_carry_is_refused(address: str, metadata: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidArgument):
        call(address, "echo", b"", metadata)


def test_a_timeout_is_deadline_exceeded_and_the_server_sees_it_cancelled(
    address: str, handlers: Handlers
) -> None:
    handlers.cancelled.clear()
    code, _, body, _ = call(address, "sleep", b"3", timeout=0.2)
    assert (code, body) == (DEADLINE, b"")
    assert handlers.cancelled.wait(5)


def test_a_dead_address_is_unavailable_not_a_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: refused
        code, message, _, _ = call(dead, "echo", b"", timeout=30.0)
    assert code == UNAVAILABLE, message
    assert dead in message


def test_messages_over_the_limit_are_refused(address: str) -> None:
    code, message, body, _ = call(address, "big", b"2000", limit=1000)
    assert (code, body) == (RESOURCE, b"")
    assert "2000 vs. 1000" in message
    assert call(address, "big", b"1000", limit=1000)[:3] == (OK, "", b"b" * 1000)
    assert call(address, "echo", b"x" * 1001, limit=1000)[0] == RESOURCE


def test_concurrent_calls_share_a_connection_and_all_come_back_right(address: str) -> None:
    def worker(n: int) -> int:
        good = 0
        for i in range(200):
            request = f"{n}-{i}-".encode() * (1 + i % 7)
            if call(address, "echo", request)[:3] == (OK, "", b"echo:" + request):
                good += 1
        return good

    with futures.ThreadPoolExecutor(16) as pool:
        assert list(pool.map(worker, range(16))) == [200] * 16


def test_a_started_call_is_waited_in_slices_and_cancelled(address: str, handlers: Handlers) -> None:
    handlers.cancelled.clear()
    pending = relay_start(address, "/t.T/sleep", [], b"3", 10.0, LIMIT)
    assert pending.wait(0.05) is None  # still running
    pending.cancel()
    reply = pending.wait(5.0)
    assert reply is not None and reply[0] == CANCELLED
    assert handlers.cancelled.wait(5)
    done = relay_start(address, "/t.T/echo", [], b"x", 10.0, LIMIT)
    reply = None
    while reply is None:
        reply = done.wait(0.05)
    assert reply[:3] == (OK, "", b"echo:x")


def test_a_restarted_server_is_reached_on_a_new_connection() -> None:
    handlers = Handlers()
    server, port = start_server(handlers)
    address = f"127.0.0.1:{port}"
    try:
        assert call(address, "echo", b"1")[0] == OK
    finally:
        server.stop(None)
    assert call(address, "echo", b"2")[0] == UNAVAILABLE  # down: the pooled connection broke
    server, _ = start_server(handlers, port)
    try:
        assert call(address, "echo", b"3")[:3] == (OK, "", b"echo:3")
    finally:
        server.stop(None)
