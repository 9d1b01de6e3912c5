"""Backup writes only under --backup-dir, privately; a refused path changes nothing anywhere.

Then the offline pair: ``memd restore`` makes a data directory from a backup (verified,
and only into a new or empty directory no daemon uses), ``memd verify`` reports counts
and problems; both run as real processes on real directories.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import REPO, Daemon, StartDaemon, clean_env

Code = grpc.StatusCode
MARKER = "marker text to damage in a copy"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the backup directory and an ``outside`` one next to it."""
    return tmp_path_factory.mktemp("backup")


@pytest.fixture(scope="module")
def daemon(root: Path) -> Iterator[Daemon]:
    """A daemon whose backup directory is ``root/backups`` (made by the first Backup)."""
    d = Daemon(root / "data", "--backup-dir", str(root / "backups"))
    memories = [mpb.NewMemory(key="saved", text="kept"), mpb.NewMemory(key="m", text=MARKER)]
    d.stub.Store(pb.StoreRequest(namespace="seed", memories=memories))
    yield d
    d.close()


def backup(d: Daemon, path: str) -> pb.BackupResponse:
    response: pb.BackupResponse = d.stub.Backup(pb.BackupRequest(path=path))
    return response


def tree(top: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``top`` (links not followed) -> (mode, size)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            out[str(p.relative_to(top))] = (st.st_mode, st.st_size)
    return out


def test_backup_is_private_under_the_backup_dir_and_serves_as_a_store(
    daemon: Daemon, root: Path, start_daemon: StartDaemon
) -> None:
    response = backup(daemon, "nightly/./2026-01-01/")
    target = root / "backups" / "nightly" / "2026-01-01"
    assert response.path == str(target.resolve())
    files = {p.name: p for p in target.iterdir()}
    assert set(files) == {"data.mdb"}
    assert response.bytes == files["data.mdb"].stat().st_size > 0
    for directory in (root / "backups", root / "backups" / "nightly", target):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(files["data.mdb"].stat().st_mode) == 0o600
    copy = start_daemon(data_dir=target)
    [got] = copy.stub.Retrieve(pb.RetrieveRequest(namespace="seed", keys=["saved"])).results
    assert got.found and got.memory.text == "kept"


REFUSED = [
    pytest.param("/tmp/memd-backup-abs", "is absolute", id="absolute"),
    pytest.param("../escaped", "'..' component", id="dot-dot"),
    pytest.param("a/../../escaped", "'..' component", id="dot-dot-inside"),
    pytest.param("a\0b", "NUL byte", id="nul-byte"),
    pytest.param("x" * 256, "256 bytes; the limit is 255", id="long-component"),
    pytest.param("d/" * 2100, "too long", id="long-path"),
    pytest.param("", "names no directory", id="empty"),
    pytest.param("./", "names no directory", id="the-backup-dir-itself"),
    pytest.param("taken", "already exists", id="existing-dir"),
    pytest.param("taken/file", "exists and is not a directory", id="existing-file"),
    pytest.param("taken/file/below", "exists and is not a directory", id="under-a-file"),
    pytest.param("out", "symbolic link", id="symlink-out"),
    pytest.param("out/below", "symbolic link", id="under-a-symlink-out"),
    pytest.param("inside-link/x", "symbolic link", id="under-a-symlink-inside"),
    pytest.param("dangling", "symbolic link", id="dangling-symlink"),
    pytest.param("dangling/below", "symbolic link", id="under-a-dangling-symlink"),
]


@pytest.mark.parametrize(("path", "message"), REFUSED)
def test_refused_path_is_invalid_argument_and_writes_nothing(
    daemon: Daemon, root: Path, path: str, message: str
) -> None:
    backups, outside = root / "backups", root / "outside"
    backups.mkdir(mode=0o700, exist_ok=True)
    outside.mkdir(exist_ok=True)
    if not (backups / "taken").exists():
        (backups / "taken").mkdir()
        (backups / "taken" / "file").write_text("not a directory")
        (backups / "out").symlink_to(outside)
        (backups / "inside-link").symlink_to(backups / "taken")
        (backups / "dangling").symlink_to(root / "nowhere")
    before = tree(root)
    with pytest.raises(grpc.RpcError) as info:
        backup(daemon, path)
    assert info.value.code() == Code.INVALID_ARGUMENT, info.value.details()
    assert message in info.value.details()
    assert len(info.value.details()) < 300  # a long path is not echoed whole
    assert tree(root) == before
    assert not (root / "nowhere").exists() and not list(outside.iterdir())


def test_one_path_is_backed_up_once_even_by_concurrent_calls(daemon: Daemon, root: Path) -> None:
    codes: list[grpc.StatusCode] = []

    def call() -> None:
        try:
            backup(daemon, "race/same")
            codes.append(Code.OK)
        except grpc.RpcError as exc:
            codes.append(exc.code())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes, key=str) == sorted([Code.OK] + [Code.INVALID_ARGUMENT] * 3, key=str)
    assert [p.name for p in (root / "backups" / "race" / "same").iterdir()] == ["data.mdb"]


def test_backup_without_a_backup_dir_is_failed_precondition(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    d = start_daemon()
    with pytest.raises(grpc.RpcError) as info:
        backup(d, "somewhere")
    assert info.value.code() == Code.FAILED_PRECONDITION
    assert info.value.details() == "no backup directory is configured (--backup-dir)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def memd(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``memd ARGS`` to completion."""
    cmd = [sys.executable, "-m", "memd", *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=clean_env(), capture_output=True, text=True)


def test_restore_makes_a_verified_store_a_daemon_serves(
    daemon: Daemon, root: Path, tmp_path: Path, start_daemon: StartDaemon
) -> None:
    copy = backup(daemon, "to-restore").path
    restored = tmp_path / "restored"
    done = memd("restore", copy, restored)
    assert done.returncode == 0, done.stderr
    assert "memories      2 (working 0, short_term 2" in done.stdout and "healthy" in done.stdout
    assert stat.S_IMODE((restored / "data.mdb").stat().st_mode) == 0o600
    checked = memd("verify", restored)
    assert checked.returncode == 0 and "namespaces    1" in checked.stdout, checked
    d = start_daemon(data_dir=restored)
    got = d.stub.Retrieve(pb.RetrieveRequest(namespace="seed", keys=["saved", "m"])).results
    assert [r.memory.text for r in got] == ["kept", MARKER]


def test_restore_refuses_a_directory_in_use_or_not_empty(
    daemon: Daemon, root: Path, tmp_path: Path
) -> None:
    copy = backup(daemon, "refused").path
    in_use = memd("restore", copy, daemon.data_dir)
    assert in_use.returncode == 2
    assert f"in use by another memd process (pid {daemon.proc.pid})" in in_use.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    refused = memd("restore", copy, full)
    assert refused.returncode == 2 and "is not empty (it holds notes.txt)" in refused.stderr
    assert [p.name for p in full.iterdir()] == ["notes.txt"]
    missing = memd("restore", tmp_path / "no-backup", tmp_path / "new")
    assert missing.returncode == 2 and "holds no backup" in missing.stderr


def test_verify_reports_a_damaged_copy_and_restore_refuses_it(
    daemon: Daemon, tmp_path: Path
) -> None:
    damaged = Path(backup(daemon, "damaged").path) / "data.mdb"
    data = damaged.read_bytes()
    assert data.count(MARKER.encode()) == 1
    damaged.write_bytes(data.replace(MARKER.encode(), b"\xff\xfe" + MARKER.encode()[2:]))
    checked = memd("verify", damaged.parent)
    assert checked.returncode == 1, checked
    assert 'memory "seed"/"m"' in checked.stdout and "1 problem(s)" in checked.stdout
    target = tmp_path / "from-damaged"
    refused = memd("restore", damaged.parent, target)
    assert refused.returncode == 1 and "nothing was restored" in refused.stderr
    assert not (target / "data.mdb").exists() and not (target / ".restore").exists()


def test_verify_needs_a_store_no_daemon_uses(daemon: Daemon, tmp_path: Path) -> None:
    in_use = memd("verify", daemon.data_dir)
    assert in_use.returncode == 2 and "in use" in in_use.stderr
    empty = memd("verify", tmp_path)
    assert empty.returncode == 2 and "holds no memd store" in empty.stderr
    assert memd("verify").returncode == 2  # argparse: DATA_DIR is required
