"""The floor for the ghz benchmarks: memd.v1.MemoryService with empty handlers.

Every unary RPC returns an empty response and every streaming RPC answers each request
with an empty response, so what ghz measures is grpcio's own cost per RPC and per
message on this machine. memd's figures are reported as a ratio to it.

Same proto, same reflection service and the same server options as memd, in either
grpcio flavour (``--flavour aio`` or ``threads``) so each memd flavour has its own floor.

Usage: ``python bench/grpc/empty_server.py --listen 127.0.0.1:50061 --flavour aio``
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from typing import Any

import grpc

from memd._pb.v1 import memory_service_pb2 as svc
from memd.server.reflection import enable_reflection

OPTIONS = [("grpc.so_reuseport", 0)]
SERVICE = svc.DESCRIPTOR.services_by_name["MemoryService"]


def _handlers(aio: bool) -> grpc.GenericRpcHandler:
    """One empty handler per RPC of MemoryService, built from the proto descriptor."""
    table: dict[str, grpc.RpcMethodHandler] = {}
    for method in SERVICE.methods:
        req_cls: Any = getattr(svc, method.input_type.name)
        resp_cls: Any = getattr(svc, method.output_type.name)
        empty = resp_cls()
        kw = {
            "request_deserializer": req_cls.FromString,
            "response_serializer": resp_cls.SerializeToString,
        }
        if not method.client_streaming and not method.server_streaming:
            if aio:

                async def unary(_req: Any, _ctx: Any, e: Any = empty) -> Any:
                    return e

                table[method.name] = grpc.unary_unary_rpc_method_handler(unary, **kw)
            else:
                table[method.name] = grpc.unary_unary_rpc_method_handler(
                    lambda _req, _ctx, e=empty: e, **kw
                )
        elif method.client_streaming:
            if aio:

                async def bidi(reqs: AsyncIterator[Any], _ctx: Any, e: Any = empty) -> Any:
                    async for _ in reqs:
                        yield e

                table[method.name] = grpc.stream_stream_rpc_method_handler(bidi, **kw)
            else:

                def bidi_sync(reqs: Iterator[Any], _ctx: Any, e: Any = empty) -> Any:
                    for _ in reqs:
                        yield e

                table[method.name] = grpc.stream_stream_rpc_method_handler(bidi_sync, **kw)
        else:
            if aio:

                async def server_stream(_req: Any, _ctx: Any, e: Any = empty) -> Any:
                    yield e

                table[method.name] = grpc.unary_stream_rpc_method_handler(server_stream, **kw)
            else:
                table[method.name] = grpc.unary_stream_rpc_method_handler(
                    lambda _req, _ctx, e=empty: iter([e]), **kw
                )
    return grpc.method_handlers_generic_handler(SERVICE.full_name, table)


def _reflect(server: Any) -> None:
    enable_reflection(server, [SERVICE.full_name])


async def _serve_aio(listen: str) -> None:
    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers([_handlers(aio=True)])
    _reflect(server)
    port = server.add_insecure_port(listen)
    await server.start()
    print(f"empty server (aio) on port {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


def _serve_threads(listen: str, workers: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=OPTIONS)
    server.add_generic_rpc_handlers([_handlers(aio=False)])
    _reflect(server)
    port = server.add_insecure_port(listen)
    server.start()
    print(f"empty server (threads x{workers}) on port {port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(1).wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:50061")
    parser.add_argument("--flavour", choices=("aio", "threads"), default="aio")
    parser.add_argument(
        "--workers", type=int, default=16, help="threads flavour pool size (memd's default)"
    )
    args = parser.parse_args(argv)
    if args.flavour == "aio":
        asyncio.run(_serve_aio(args.listen))
    else:
        _serve_threads(args.listen, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
