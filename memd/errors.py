"""The exceptions memd raises, one hierarchy for the engine, the server and the clients.

The Rust core has one error enum (``rust_core/src/error.rs``); each variant maps to
exactly one class here, and each class maps to exactly one gRPC status code in
``memd/server/status.py``:

=====================  ==========================  ======================
exception              raised when                 gRPC status
=====================  ==========================  ======================
``InvalidArgument``    bad input; nothing changed  ``INVALID_ARGUMENT``
``NotFound``           a named thing is missing    ``NOT_FOUND``
``AlreadyExists``      what the call would create  ``ALREADY_EXISTS``
                       exists (a Transfer's key
                       in its target)
``CapacityExceeded``   the store (map) or the      ``RESOURCE_EXHAUSTED``
                       disk is full, or a limit
                       was exceeded
``FailedPrecondition`` valid, but the server is    ``FAILED_PRECONDITION``
                       not set up for it
``EngineClosed``       used after close/fork       ``FAILED_PRECONDITION``
``DataDirInUse``       another engine or daemon    ``FAILED_PRECONDITION``
                       holds the data directory
``Unauthenticated``    no valid token (missing,    ``UNAUTHENTICATED``
                       unknown, expired, revoked)
``PermissionDenied``   the token has no grant for  ``PERMISSION_DENIED``
                       this action and namespace
``Unavailable``        the embedding service       ``UNAVAILABLE``
                       failed or is down
``DataLoss``           an archive object of the    ``DATA_LOSS``
                       memory is missing, corrupt
                       or sealed with an unknown
                       key
``StorageError``       LMDB or filesystem failure  ``INTERNAL``
``InternalError``      a bug in memd               ``INTERNAL``
=====================  ==========================  ======================
"""

from __future__ import annotations


class MemdError(Exception):
    """Base class of every error memd raises on purpose."""


class InvalidArgument(MemdError, ValueError):
    """The request is malformed or out of range; the store was not changed."""


class NotFound(MemdError, LookupError):
    """A namespace or other named object does not exist."""


class AlreadyExists(MemdError):
    """What the call would create exists already; nothing was changed.

    E.g. Transfer with ``on_conflict="fail"`` meeting a key its target namespace holds.
    """


class CapacityExceeded(MemdError):
    """The LMDB map or the disk is full, or a size limit was hit; nothing was changed."""


class FailedPrecondition(MemdError):
    """The request is valid, but the server is not set up for it; nothing changed.

    E.g. Backup on a daemon without a backup directory: retrying will not help until
    an operator changes the configuration.
    """


class EngineClosed(FailedPrecondition):
    """The engine was closed, or is used from a forked child process."""


class Unauthenticated(MemdError):
    """The call has no valid token: missing, unknown, expired or revoked.

    Attributes:
        reason: ``missing``, ``malformed``, ``unknown`` or ``expired`` (the server's
            metric label); None where it is not known (a client gets only the status).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class PermissionDenied(MemdError):
    """The token is valid but has no grant for this action on this namespace."""


class DataDirInUse(MemdError):
    """Another engine (this process or another) has the data directory open.

    One store has one owner at a time: the message names the holder's pid.
    """


class StorageError(MemdError, OSError):
    """LMDB or the filesystem failed; the failed batch was not committed."""


class Unavailable(MemdError):
    """A service memd depends on (the embedding endpoint) failed or is known to be down.

    Nothing was changed; the same call may succeed later. Reads and keyword searches
    never need it.
    """


class DataLoss(MemdError):
    """A memory's value cannot be read back from the object archive (docs/archive.md).

    Its object is missing, corrupted, or sealed with a key the daemon is not given.
    Only the memories that need that object are affected; nothing was changed.
    """


class InternalError(MemdError):
    """An invariant inside memd broke: please report it."""


__all__ = [
    "AlreadyExists",
    "CapacityExceeded",
    "DataDirInUse",
    "DataLoss",
    "EngineClosed",
    "FailedPrecondition",
    "InternalError",
    "InvalidArgument",
    "MemdError",
    "NotFound",
    "PermissionDenied",
    "StorageError",
    "Unauthenticated",
    "Unavailable",
]
