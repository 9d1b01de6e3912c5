"""Bad history is refused and changes nothing: over gRPC a time more than 5 minutes
ahead of the daemon's clock is INVALID_ARGUMENT for its item (the whole batch when
atomic); ``memd import`` reports each bad line by number, stores the good ones, skips
lines that expired since the export, counts dedup merges of lines without history,
and exits 1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest
from memd_client import Client, InvalidArgument, MemoryHistory, NewMemory

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .conftest import MakeDaemon, run_memd

HOUR_MS = 3_600_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_a_future_creation_time_is_invalid_argument_over_grpc(make_daemon: MakeDaemon) -> None:
    daemon = make_daemon()
    ahead = MemoryHistory(created_ms=_now_ms() + HOUR_MS)
    recent = MemoryHistory(created_ms=_now_ms() - HOUR_MS)
    with Client(daemon.address) as client:
        items = [
            NewMemory(key="past", text="ok", history=recent),
            NewMemory(key="future", text="x", history=ahead),
        ]
        result = client.store("ns", items)
        [err] = result.errors
        assert (err.index, err.code) == (1, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        assert "history.created_ms" in err.message and "is in the future" in err.message
        with pytest.raises(InvalidArgument, match="is in the future"):
            # A dict item with a dict history works like the dataclasses.
            item = {"key": "a", "text": "x", "history": {"created_ms": ahead.created_ms}}
            client.store("atomic", [item], atomic=True)
        got = client.get("ns", ["past", "future"], peek=True)
        assert got["future"] is None
        assert got["past"] is not None and got["past"].created_ms == recent.created_ms
    # The raw RPC, as any client sends it: the same answer.
    future = mpb.MemoryHistory(created_ms=_now_ms() + HOUR_MS)
    request = pb.StoreRequest(
        namespace="raw", memories=[mpb.NewMemory(text="x", history=future)], atomic=True
    )
    with pytest.raises(grpc.RpcError) as caught:
        daemon.stub.Store(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "item 0: history.created_ms" in str(caught.value.details())
    assert list(daemon.stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces) == ["ns"]


def test_import_reports_bad_lines_by_number_and_stores_the_rest(
    make_daemon: MakeDaemon, tmp_path: Path
) -> None:
    daemon = make_daemon()
    now = _now_ms()
    line = {"namespace": "imp", "key": "good", "text": "fine", "created_ms": now - HOUR_MS}
    lines = [
        json.dumps(line),
        json.dumps({**line, "key": "ahead", "created_ms": now + HOUR_MS}),
        "{not json",
        json.dumps({**line, "key": "typo", "craeted_ms": 1}),
        json.dumps({**line, "key": "gone", "ttl_ms": 1000, "expires_at_ms": now - 1}),
        "",
        json.dumps({**line, "key": "vector", "embedding": "AACAPw=="}),
        # No history: a write now, which the daemon's dedup merges into "good".
        json.dumps({"namespace": "imp", "key": "plain", "text": "fine"}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run_memd("import", "--target", daemon.address, str(path))
    assert done.returncode == 1
    err = done.stderr
    assert "line 2 (imp 'ahead'): history.created_ms" in err and "is in the future" in err
    assert "line 3: not JSON" in err
    assert "line 4: unknown field 'craeted_ms'" in err
    summary = "import: 3 stored (1 merged into existing memories by dedup), 3 rejected, 1 skipped"
    assert summary in err
    with Client(daemon.address) as client:
        got = client.get("imp", ["good", "ahead", "typo", "gone", "vector", "plain"], peek=True)
    assert {k for k, m in got.items() if m is not None} == {"good", "vector"}
    good = got["good"]
    assert good is not None and good.created_ms == now - HOUR_MS and good.version == 2


def test_an_unwritable_checkpoint_or_another_files_checkpoint_is_a_usage_error(
    make_daemon: MakeDaemon, tmp_path: Path
) -> None:
    daemon = make_daemon()
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    one.write_text('{"namespace":"n","text":"a"}\n')
    two.write_text('{"namespace":"n","text":"b"}\n')
    checkpoint = tmp_path / "cp"
    checkpoint.write_text(json.dumps({"version": 1, "source": "7:abc", "format": "memd"}))
    done = run_memd("import", "--target", daemon.address, str(two), "--checkpoint", str(checkpoint))
    assert done.returncode == 2 and "belongs to another or a changed source file" in done.stderr
    missing = tmp_path / "no" / "such" / "dir" / "cp"
    done = run_memd("import", "--target", daemon.address, str(one), "--checkpoint", str(missing))
    assert done.returncode == 2 and "No such file or directory" in done.stderr
    assert list(daemon.stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces) == []
