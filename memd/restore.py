"""``memd restore`` and ``memd verify``: offline tools on a data directory.

Both run with no daemon on the directory, and take its lock (``memd.lock``, the same
``flock`` the engine holds while open) so that a daemon cannot start on it meanwhile.

The check itself is ``memd._core.verify``, run in a child process: LMDB trusts the
pages it reads, so a damaged file can crash its reader, and a checker must report
that rather than die of it.

``restore`` never exposes an unchecked store: the copy is made and verified in a
staging directory inside DATA_DIR, and only a healthy copy is renamed into place
(one atomic rename on one filesystem). A backup that fails the check leaves DATA_DIR
as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from memd import errors
from memd.config_parse import TIER_NAMES
from memd.errors import DataDirInUse, InvalidArgument, MemdError

DATA_FILE = "data.mdb"
LOCK_FILE = "memd.lock"  # rust_core/src/store/lock.rs
STAGING = ".restore"


@dataclass(frozen=True, slots=True)
class Check:
    """What ``verify`` found in a data directory.

    Attributes:
        counts: Memories (in all and per tier), namespaces, tokens, record and file bytes.
        problems: One line per problem; empty when the store is healthy.
    """

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The report as the CLI prints it."""
        c = self.counts
        tiers = ", ".join(f"{t} {c.get(t, 0)}" for t in TIER_NAMES)
        lines = (
            [
                f"memories      {c.get('memories', 0)} ({tiers})",
                f"namespaces    {c.get('namespaces', 0)}",
                f"tokens        {c.get('tokens', 0)}",
                f"record bytes  {c.get('record_bytes', 0)}",
                f"file bytes    {c.get('file_bytes', 0)}",
            ]
            if c  # a crashed check counted nothing
            else []
        )
        if not self.problems:
            return "\n".join([*lines, "healthy: no problems found"])
        return "\n".join(
            [*lines, f"{len(self.problems)} problem(s):", *(f"  {p}" for p in self.problems)]
        )


def verify(data_dir: str | Path) -> Check:
    """Check the store in ``data_dir`` (see ``memd._core.verify``), in a child process.

    Raises:
        NotFound: ``data_dir`` holds no store.
        DataDirInUse: A daemon (or another tool) has it open.
    """
    ctx = multiprocessing.get_context("spawn")  # no state of this process is inherited
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_verify_child, args=(str(data_dir), send), daemon=True)
    child.start()
    send.close()
    try:
        outcome = receive.recv()
    except EOFError:  # the child died before it could answer
        child.join()
        return Check(problems=[_crash(child.exitcode)])
    finally:
        receive.close()
    child.join()
    if outcome[0] == "error":
        _, kind, message = outcome
        raise getattr(errors, kind, MemdError)(message)
    _, counts, problems = outcome
    return Check(counts, problems)


def _verify_child(data_dir: str, send: Connection) -> None:
    """The child's side of ``verify``: run the check, send its counts or its error."""
    from memd import _core  # imported here: the parent never loads LMDB for a check

    try:
        r = _core.verify(data_dir)
    except MemdError as exc:
        send.send(("error", type(exc).__name__, str(exc)))
        return
    counts = {
        "memories": r.memories,
        **dict(zip(TIER_NAMES, r.by_tier, strict=True)),
        "namespaces": r.namespaces,
        "tokens": r.tokens,
        "record_bytes": r.record_bytes,
        "file_bytes": r.file_bytes,
    }
    send.send(("report", counts, list(r.problems)))


def _crash(exitcode: int | None) -> str:
    how = (
        f"signal {signal.Signals(-exitcode).name}"
        if exitcode is not None and exitcode < 0
        else f"exit code {exitcode}"
    )
    return f"the check crashed ({how}): {DATA_FILE} is damaged beyond what can be decoded"


def restore(backup: str | Path, data_dir: str | Path) -> Check:
    """Make ``data_dir`` a store holding the copy in ``backup``, verified.

    Args:
        backup: A directory written by Backup (holding ``data.mdb``), or that file.
        data_dir: A new or empty directory (created 0700 if missing).

    Returns:
        The check of the restored store. With problems, nothing was restored.

    Raises:
        InvalidArgument: ``backup`` holds no copy, or ``data_dir`` is not empty.
        DataDirInUse: A daemon has ``data_dir`` open.
    """
    source = Path(backup)
    if source.is_dir():
        source = source / DATA_FILE
    if not source.is_file():
        raise InvalidArgument(f"{backup} holds no backup ({DATA_FILE} not found)")
    target = Path(data_dir)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    if (target / LOCK_FILE).exists():
        with _locked(target):  # a daemon's directory: say so rather than "not empty"
            pass
    _refuse_content(target)  # before the lock file is made: a refusal leaves no trace
    with _locked(target):
        _refuse_content(target)  # again: something may have come in meanwhile
        staging = target / STAGING
        staging.mkdir(mode=0o700)
        try:
            _copy(source, staging / DATA_FILE)
            check = verify(staging)
            if not check.problems:
                os.rename(staging / DATA_FILE, target / DATA_FILE)
                _fsync_dir(target)
            return check
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _refuse_content(data_dir: Path) -> None:
    """Raise ``InvalidArgument`` unless ``data_dir`` is empty (but for a lock file)."""
    others = sorted(set(os.listdir(data_dir)) - {LOCK_FILE})
    if others:
        raise InvalidArgument(
            f"{data_dir} is not empty (it holds {', '.join(others[:5])}); restore only "
            "into a new or empty directory"
        )


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir``'s engine lock, or raise ``DataDirInUse`` naming its holder."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DataDirInUse(
                f"data directory {data_dir} is in use by another memd process (pid {holder}); "
                "stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` to a new file ``target`` (0600), synced to disk."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
