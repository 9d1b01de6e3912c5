"""The one table from gRPC status codes to exceptions, the mirror of the server's.

The server maps its exceptions to codes in ``memd/server/status.py``; the client maps
the codes back to the same ``memd.errors`` classes, so ``except memd.InvalidArgument``
catches a bad request whether it went to an embedded ``Engine`` or over the network.
Codes the engine never produces (the transport's own) get the classes defined here,
all subclasses of ``memd.errors.MemdError``. The original ``grpc.RpcError`` is kept as
the exception's ``__cause__``.
"""

from __future__ import annotations

from typing import Any

import grpc

from memd.errors import (
    AlreadyExists,
    CapacityExceeded,
    DataLoss,
    FailedPrecondition,
    InternalError,
    InvalidArgument,
    MemdError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from memd.errors import Unavailable as ServiceUnavailable


class Unavailable(ServiceUnavailable, ConnectionError):
    """The server cannot be reached, is shutting down, or its embedding service is down.

    Retried with backoff first. A subclass of ``memd.errors.Unavailable``, which the
    embedded engine raises when its embedder fails.
    """


class DeadlineExceeded(MemdError, TimeoutError):
    """The call's deadline (``timeout``) passed before the server answered."""


class Cancelled(MemdError):
    """The call was cancelled (by this client or the server)."""


class Unimplemented(MemdError, NotImplementedError):
    """The server does not implement this RPC (an older server)."""


class RpcFailed(MemdError):
    """Any other status code."""


ERROR_OF: dict[grpc.StatusCode, type[MemdError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.RESOURCE_EXHAUSTED: CapacityExceeded,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DATA_LOSS: DataLoss,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}
"""Status code -> exception class; codes not listed raise ``RpcFailed``."""

_CODE_BY_NUMBER: dict[int, grpc.StatusCode] = {c.value[0]: c for c in grpc.StatusCode}


def code_of(err: Any) -> grpc.StatusCode:
    """The status code of a ``grpc.RpcError`` (UNKNOWN when it carries none)."""
    code = err.code() if callable(getattr(err, "code", None)) else None
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def from_rpc_error(err: Any) -> MemdError:
    """The ``memd.errors`` exception for a failed call (raise it ``from err``)."""
    code = code_of(err)
    details = err.details() if callable(getattr(err, "details", None)) else None
    message = details or code.name.lower().replace("_", " ")
    return ERROR_OF.get(code, RpcFailed)(message)


def from_code_number(number: int, message: str) -> MemdError:
    """The exception for a per-item error's numeric code (``ItemError.code``)."""
    code = _CODE_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)
    return ERROR_OF.get(code, RpcFailed)(message)
