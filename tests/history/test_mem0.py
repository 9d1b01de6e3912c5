"""``memd import --from mem0``: the example export of docs/examples/mem0-export.json
(Mem0's get_all() output) lands in memd with ids as keys, categories as tags, Mem0's
metadata and ids, and the times Mem0 recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from daemon_launcher import REPO, Daemon
from memd_client import Client, Memory

from memd._pb.v1 import memory_service_pb2 as pb

from .conftest import MakeDaemon, run_memd

EXAMPLE = REPO / "docs" / "examples" / "mem0-export.json"


def _ms(iso: str) -> int:
    when = dt.datetime.fromisoformat(iso)
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def _all(daemon: Daemon) -> dict[str, list[Memory]]:
    spaces = daemon.stub.ListNamespaces(pb.ListNamespacesRequest(), timeout=30).namespaces
    with Client(daemon.address) as client:
        return {ns: list(client.list(ns)) for ns in spaces}


def _import_example(daemon: Daemon, checkpoint: Path, *flags: str) -> CompletedProcess[str]:
    # As docs/history.md shows it, with the checkpoint outside the repository.
    example = ("import", "--from", "mem0", str(EXAMPLE), *flags, "--target", daemon.address)
    return run_memd(*example, "--checkpoint", str(checkpoint))


@pytest.fixture
def imported(make_daemon: MakeDaemon, tmp_path: Path) -> Daemon:
    daemon = make_daemon()
    done = _import_example(daemon, tmp_path / "cp")
    assert done.returncode == 0, done.stderr
    assert "import: 4 stored, 0 rejected, 0 skipped (expired)" in done.stderr
    return daemon


def test_the_example_lands_with_its_keys_times_tags_and_metadata(imported: Daemon) -> None:
    spaces = _all(imported)
    booking_ns = "agent:concierge/user:alex/run:session-42"
    assert sorted(spaces) == [booking_ns, "agent:support-bot", "user:alex"]
    veg, seat = spaces["user:alex"]
    assert veg.key == "3f6c2a9e-8d1b-4c55-9a0e-2b7f41d0c8a1"
    assert veg.text == "Is vegetarian and allergic to nuts"
    assert (veg.created_ms, veg.updated_ms) == (
        _ms("2025-03-14T09:21:07.412583-07:00"),
        _ms("2025-06-02T18:40:11.004217-07:00"),
    )
    assert veg.last_access_ms == veg.updated_ms and veg.version == 1
    assert veg.tags == ["food", "health"]
    assert veg.metadata == {
        "source": "onboarding chat",
        "confidence": "0.9",
        "mem0.user_id": "alex",
        "mem0.hash": "8c1f3e0b9d2a4f6e7a5b3c1d0e9f8a7b",
    }
    assert seat.updated_ms == seat.created_ms == _ms("2025-04-02T11:05:44.918340-07:00")
    [booking] = spaces[booking_ns]
    assert booking.expires_at_ms == _ms("2100-01-01T00:00:00+00:00"), "through 2099-12-31 UTC"
    assert booking.metadata["mem0.role"] == "assistant"
    [rule] = spaces["agent:support-bot"]
    assert rule.created_ms == _ms("2024-11-20T15:00:00+00:00"), "a naive time is UTC"


def test_importing_the_example_again_changes_nothing(imported: Daemon, tmp_path: Path) -> None:
    before = _all(imported)
    done = _import_example(imported, tmp_path / "cp2")
    assert done.returncode == 0, done.stderr
    assert _all(imported) == before


def test_a_namespace_template_and_an_item_it_cannot_place(
    make_daemon: MakeDaemon, tmp_path: Path
) -> None:
    daemon = make_daemon()
    done = _import_example(daemon, tmp_path / "cp", "--namespace", "mem0/{user_id}")
    assert done.returncode == 1
    item_4 = "item 4 (id 0d4f2b6e-1a3c-4e5f-9b7d-8c6a4e2f0b1d)"
    assert f"{item_4}: no user_id for --namespace" in done.stderr
    assert "import: 3 stored, 1 rejected" in done.stderr
    assert [m.key[:8] for m in _all(daemon)["mem0/alex"]] == ["3f6c2a9e", "a41d7c03", "c9e8f7a6"]


def test_what_is_not_a_mem0_export_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"memories": []}')
    done = run_memd("import", "--from", "mem0", str(bad), "--target", "127.0.0.1:1")
    assert done.returncode == 2 and "expected Mem0 get_all() output" in done.stderr
