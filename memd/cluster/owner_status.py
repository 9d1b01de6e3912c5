"""The status of a forwarded call's owner, as the memd exception that maps back to it.

A forwarded call ends with the status the owner gave (its own failure: NOT_FOUND,
INVALID_ARGUMENT...), raised here as the ``memd.errors`` class that
``memd.server.status`` maps to that same status; a status that means the hop itself
failed (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED...) becomes ``Unavailable``, which a
client retries. grpcio's client reports a status as ``grpc.RpcError``
(``as_memd_error``), the Rust relay as a number (``relayed_error``).
"""

from __future__ import annotations

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
    Unavailable,
)

# The inverse of memd.server.status.STATUS_OF for the codes an owner's own failure
# carries (one class per code; tests/cluster/test_units.py checks the round trip), so
# a forwarded call ends with the status the owner gave. Codes not here (UNAVAILABLE,
# DEADLINE_EXCEEDED, CANCELLED...) mean the hop failed: try again.
_ERROR_OF: dict[grpc.StatusCode, type[MemdError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.RESOURCE_EXHAUSTED: CapacityExceeded,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.DATA_LOSS: DataLoss,
}


_STATUS_OF_CODE = {status.value[0]: status for status in grpc.StatusCode}


def as_memd_error(exc: grpc.RpcError, owner: str) -> MemdError:
    """The owner's failure as the exception that maps back to the same status."""
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNAVAILABLE
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return status_error(code, details, owner)


def status_error(code: grpc.StatusCode, details: str | None, owner: str) -> MemdError:
    """A status that is not OK as the exception that maps back to it (see ``_ERROR_OF``)."""
    cls = _ERROR_OF.get(code)
    if cls is None:  # UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED...: try again
        return Unavailable(f"owner node {owner}: {code.name}: {details}")
    return cls(details or "")


def relayed_error(code: int, message: str, owner: str) -> MemdError:
    """A relayed call's status (a number) that is not OK, as ``status_error``."""
    return status_error(_STATUS_OF_CODE.get(code, grpc.StatusCode.UNKNOWN), message, owner)
