"""The one table from exceptions to gRPC status codes.

Every error a client sees goes through ``to_status``: the RPC-level errors (in the
interceptor) and the per-item errors of a batch (``StoreResult.error.code``). A
``MemdError`` carries a message written for the client, so it is passed on; anything
else is a bug, answered with INTERNAL and an id to find the traceback in the log, never
the traceback itself.
"""

from __future__ import annotations

import grpc

from memd.errors import (
    AlreadyExists,
    CapacityExceeded,
    DataDirInUse,
    DataLoss,
    EngineClosed,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    MemdError,
    NotFound,
    PermissionDenied,
    StorageError,
    Unauthenticated,
    Unavailable,
)


class DrainState:
    """Whether shutdown has begun; shared by the servicer, the interceptor and the app.

    A plain attribute: it only ever flips from False to True, so readers on other
    threads need no lock.
    """

    __slots__ = ("draining",)

    def __init__(self) -> None:
        self.draining = False


class ServerDraining(Exception):
    """The daemon is shutting down: end a stream cleanly so the client can resume."""


class Unimplemented(Exception):
    """The RPC exists in the API but not yet in this server."""


STATUS_OF: dict[type[Exception], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    CapacityExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    EngineClosed: grpc.StatusCode.FAILED_PRECONDITION,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    DataDirInUse: grpc.StatusCode.FAILED_PRECONDITION,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    StorageError: grpc.StatusCode.INTERNAL,
    InternalError: grpc.StatusCode.INTERNAL,
    ServerDraining: grpc.StatusCode.UNAVAILABLE,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    DataLoss: grpc.StatusCode.DATA_LOSS,
    Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
}
"""Exception class -> status code. Subclasses map like their nearest listed base."""

_INTERNAL = grpc.StatusCode.INTERNAL


def to_status(exc: BaseException, draining: bool = False) -> tuple[grpc.StatusCode, str | None]:
    """The status code for ``exc`` and the message the client may see.

    Args:
        exc: What a handler raised.
        draining: True once shutdown began: a closed engine then means UNAVAILABLE
            (go elsewhere), not FAILED_PRECONDITION (a broken server).

    Returns:
        ``(code, message)``; the message is None when the error is not one of ours and
        must not be shown (the caller logs it and sends a generic text).
    """
    if isinstance(exc, EngineClosed) and draining:
        return grpc.StatusCode.UNAVAILABLE, "the server is shutting down"
    for cls in type(exc).__mro__:
        code = STATUS_OF.get(cls)
        if code is not None:
            return code, str(exc) or code.name.lower().replace("_", " ")
    if isinstance(exc, MemdError):
        return _INTERNAL, str(exc)
    return _INTERNAL, None
