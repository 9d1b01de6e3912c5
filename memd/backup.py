"""Where a Backup RPC may write, and how the copy is made private to the daemon's user.

A Backup path comes from a client, so it is untrusted: it names a new directory
*relative to* the operator's backup directory (``--backup-dir``), and nothing a client
sends may make the daemon write anywhere else. The path is checked twice:

1. lexically (``backup_parts``): no NUL byte, not absolute, no ``..`` component, no
   component over NAME_MAX bytes, not over PATH_MAX in all;
2. on the filesystem (``write_backup``), one component at a time from an open
   descriptor of the backup directory, with ``O_NOFOLLOW``: a symbolic link anywhere
   under the backup directory is refused rather than resolved, so neither a link out of
   it nor a dangling one can be followed, and a concurrent rename cannot redirect a
   walk already under way (there is no check-then-use on path strings).

The last component is created with an exclusive ``mkdir``: each backup gets a new
directory, two Backups of one path cannot share it, and an existing directory (empty
or not) is never written into. Directories made here are 0700 and the copied files
0600, whatever the umask: a backup holds every tenant's memories and the token hashes.
A copy that fails half-way is removed, so the same path can be retried.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from memd.engine import Engine
from memd.errors import (
    CapacityExceeded,
    FailedPrecondition,
    InvalidArgument,
    MemdError,
    StorageError,
)

NAME_MAX = 255
"""Longest path component in bytes (Linux and macOS file systems)."""
PATH_MAX = 4096
"""Longest absolute path in bytes, including the copy's ``/data.mdb``."""
NO_BACKUP_DIR = "no backup directory is configured (--backup-dir)"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_SHOWN = 64  # characters of a client's path echoed in an error message


@dataclass(frozen=True, slots=True)
class BackupCopy:
    """A finished backup: the directory written and the bytes in it."""

    path: str
    bytes: int


def backup_parts(relative: str) -> list[str]:
    """The components of a client's backup path, checked without touching the disk.

    Empty and ``.`` components are dropped (``a//./b`` is ``a/b``).

    Raises:
        InvalidArgument: The path could name something outside the backup directory,
            or is not a valid directory name.
    """
    if "\0" in relative:
        raise InvalidArgument("backup path contains a NUL byte")
    if relative.startswith("/"):
        raise InvalidArgument(
            f"backup path {_show(relative)} is absolute; give a directory relative to "
            "the backup directory"
        )
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(
            f"backup path {_show(relative)} has a '..' component; backups stay inside "
            "the backup directory"
        )
    if not parts:
        raise InvalidArgument(
            f"backup path {_show(relative)} names no directory; give a new directory "
            "relative to the backup directory"
        )
    for part in parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise InvalidArgument(
                f"backup path component {_show(part)} is {size} bytes; the limit is {NAME_MAX}"
            )
    return parts


def write_backup(engine: Engine, backup_dir: str, relative: str) -> BackupCopy:
    """Copy the store into a new directory ``relative`` under ``backup_dir``.

    Args:
        engine: The store to copy (a hot, compacted copy: writers are not blocked).
        backup_dir: The operator's backup directory; empty when backups are disabled.
            Created (0700) if missing; it may itself be a symbolic link.
        relative: The client's path, relative to ``backup_dir``.

    Returns:
        The resolved directory written and the size of the copy.

    Raises:
        FailedPrecondition: No backup directory is configured, or it is unusable.
        InvalidArgument: The path is refused (see the module docstring).
        CapacityExceeded: The disk is full.
    """
    if not backup_dir:
        raise FailedPrecondition(NO_BACKUP_DIR)
    parts = backup_parts(relative)
    root_path, root = _open_root(backup_dir)
    target = os.path.join(root_path, *parts)
    if len(os.fsencode(target)) + len("/data.mdb") > PATH_MAX:
        os.close(root)
        raise InvalidArgument(
            f"backup path {_show(relative)} is too long: the copy's path would exceed "
            f"{PATH_MAX} bytes"
        )
    fds = [root]
    try:
        for i, part in enumerate(parts[:-1]):
            fds.append(_enter(fds[-1], part, "/".join(parts[: i + 1])))
        parent, last = fds[-1], parts[-1]
        fds.append(_enter(parent, last, "/".join(parts), exclusive=True))
        return BackupCopy(target, _copy_into(engine, target, (parent, last, fds[-1])))
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _open_root(backup_dir: str) -> tuple[str, int]:
    """The resolved backup directory and a descriptor of it, creating it if missing."""
    try:
        os.makedirs(backup_dir, mode=0o700, exist_ok=True)
        path = os.path.realpath(backup_dir)
        return path, os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise FailedPrecondition(
            f"the backup directory is unusable: {exc.strerror or exc}"
        ) from None


def _enter(parent: int, name: str, shown: str, exclusive: bool = False) -> int:
    """Open directory ``name`` under ``parent``, never through a symbolic link.

    A missing directory is created 0700. With ``exclusive`` it must not exist yet.
    """
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            if exclusive:
                raise
            created = False
        else:
            created = True
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        raise _refusal(exc, parent, name, shown) from None
    if created:
        os.fchmod(fd, 0o700)  # the umask can only have removed bits; make it exact
    return fd


def _copy_into(engine: Engine, target: str, made: tuple[int, str, int]) -> int:
    """Have the engine write its copy into the directory just made; returns its size.

    The engine takes a path, so it is given ``/proc/self/fd/N`` where that exists: it
    resolves to the very directory just created, even if a local user renamed the path
    meanwhile.

    Args:
        engine: The store.
        target: The new directory's path.
        made: The parent's descriptor, the new directory's name and its descriptor.
    """
    parent, name, fd = made
    via = f"/proc/self/fd/{fd}"
    try:
        engine.backup(via if os.path.isdir(via) else target)
        return _seal(fd)
    except BaseException:
        _discard(parent, name, fd)
        raise


def _seal(fd: int) -> int:
    """Make every file in directory ``fd`` 0600 (synced to disk); returns their total size."""
    total = 0
    for entry in os.listdir(fd):
        f = os.open(entry, _FILE_FLAGS, dir_fd=fd)
        try:
            info = os.fstat(f)
            if stat.S_ISREG(info.st_mode):
                os.fchmod(f, 0o600)
                os.fsync(f)
                total += info.st_size
        finally:
            os.close(f)
    os.fsync(fd)
    return total


def _discard(parent: int, name: str, fd: int) -> None:
    """Best effort: remove a half-written backup directory so the path can be reused."""
    try:
        for entry in os.listdir(fd):
            os.unlink(entry, dir_fd=fd)
        os.rmdir(name, dir_fd=parent)
    except OSError:
        pass  # the original error is the one to report


def _refusal(exc: OSError, parent: int, name: str, shown: str) -> MemdError:
    """The client error for a filesystem refusal at component ``shown``."""
    shown = _show(shown)
    if exc.errno in (errno.EEXIST, errno.ELOOP, errno.ENOTDIR):
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except OSError:
            mode = 0
        if stat.S_ISLNK(mode):
            return InvalidArgument(
                f"backup path {shown} is a symbolic link; links under the backup "
                "directory are not followed"
            )
        if stat.S_ISDIR(mode):
            return InvalidArgument(
                f"backup path {shown} already exists; each backup needs a new directory"
            )
        return InvalidArgument(f"backup path {shown} exists and is not a directory")
    if exc.errno == errno.ENAMETOOLONG:
        return InvalidArgument(f"backup path {shown} is too long")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CapacityExceeded(f"no space left to create backup path {shown}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return FailedPrecondition(f"cannot create backup path {shown}: {exc.strerror}")
    return StorageError(f"cannot create backup path {shown}: {exc.strerror}")


def _show(text: str) -> str:
    """``text`` quoted for an error message, cut short: clients may send megabytes."""
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")
