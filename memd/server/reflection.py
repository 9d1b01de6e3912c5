"""Server reflection that ghz can use, not only grpcurl.

ghz resolves ``--call memd.v1.MemoryService.Retrieve`` by asking reflection for the file
containing the *method* symbol. grpcio-reflection looks symbols up in protobuf's
descriptor pool, which only indexes messages, enums, services and extensions, so the
answer is NOT_FOUND and ghz fails with "Symbol not found" (bojand/ghz#419). Other
servers (Go, C++) resolve method names. We wrap the pool so that a method name falls
back to its service, which lives in the same file.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha import reflection


class _MethodAwarePool:
    """A read-only view of a descriptor pool that also resolves ``Service.Method``.

    Args:
        pool: The pool to delegate to.
    """

    def __init__(self, pool: descriptor_pool.DescriptorPool) -> None:
        self._pool = pool

    def FindFileContainingSymbol(self, symbol: str) -> Any:
        """Like the pool's method, with a fallback from a method name to its service."""
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            parent, _, method = symbol.rpartition(".")
            service = self._find_service(parent)
            if service is None or method not in service.methods_by_name:
                raise
            return service.file

    def _find_service(self, name: str) -> Any:
        try:
            return self._pool.FindServiceByName(name)
        except KeyError:
            return None

    def __getattr__(self, name: str) -> Any:
        # Everything else (FindFileByName, FindMessageTypeByName, ...) is the pool's own.
        return getattr(self._pool, name)


def enable_reflection(server: Any, service_names: list[str]) -> None:
    """Serve grpc.reflection.v1alpha for ``service_names`` (plus reflection itself).

    Args:
        server: A ``grpc.Server`` or ``grpc.aio.Server``.
        service_names: Fully qualified names of the services to list.
    """
    names = [*service_names, reflection.SERVICE_NAME]
    pool = _MethodAwarePool(descriptor_pool.Default())
    reflection.enable_server_reflection(names, server, pool=pool)
