"""Who owns a data directory and what it holds besides memories.

One engine per directory (an exclusive lock naming the holder), access-token records
kept in the store but never a namespace, the offline ``verify`` check, and
``peek_namespace``, which must read a request's namespace exactly as the engine will.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from engine_helpers import NS

import memd
from memd import NewMemory
from memd._core import peek_namespace
from memd._pb.v1 import memory_service_pb2 as spb
from memd.engine import verify
from memd.errors import DataDirInUse, InvalidArgument, NotFound

DIGEST_A, DIGEST_B = b"\x01" * 32, b"\x02" * 32


def test_a_second_engine_in_this_process_is_refused_until_the_first_closes(make_engine, tmp_path):
    first = make_engine()
    with pytest.raises(DataDirInUse, match=f"in use by another memd process .*pid {os.getpid()}"):
        make_engine()
    first.close()
    make_engine().put(NS, NewMemory(text="reopened"))


def test_another_process_is_refused_with_a_message_naming_the_holder(tmp_path):
    path = tmp_path / "store"
    with memd.Engine(path):
        code = textwrap.dedent(
            f"""
            import memd
            from memd.errors import DataDirInUse
            try:
                memd.Engine({str(path)!r})
            except DataDirInUse as e:
                print(e)
            else:
                print("opened")
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    assert f"data directory {path} is in use by another memd process (pid {os.getpid()})" in out
    assert "stop it first or use another --data-dir" in out


def test_tokens_round_trip_in_digest_order_and_are_not_namespaces(make_engine, tmp_path):
    eng = make_engine()
    eng.put_token(DIGEST_B, b"b")
    eng.put_token(DIGEST_A, b"a")
    eng.put(NS, NewMemory(text="a memory"))
    assert eng.tokens() == [(DIGEST_A, b"a"), (DIGEST_B, b"b")]
    assert eng.namespaces() == [NS] and [s.namespace for s in eng.stats()] == [NS]
    assert eng.delete_token(DIGEST_A) and not eng.delete_token(DIGEST_A)
    eng.backup(tmp_path / "backup")
    eng.close()
    restored = make_engine(path=tmp_path / "backup")
    assert restored.tokens() == [(DIGEST_B, b"b")]


@pytest.mark.parametrize(
    ("digest", "record"),
    [(b"", b"r"), (b"\x00" * 31, b"r"), (b"\x00" * 33, b"r"), (DIGEST_A, b"x" * (64 * 1024 + 1))],
    ids=["empty", "short", "long", "record-too-big"],
)
def test_bad_token_digests_and_records_are_invalid_arguments(engine, digest, record):
    with pytest.raises(InvalidArgument, match="token"):
        engine.put_token(digest, record)
    assert engine.tokens() == []


def test_verify_reports_counts_and_refuses_a_directory_in_use(make_engine, tmp_path):
    eng = make_engine()
    eng.put_many(NS, [NewMemory(text="one"), NewMemory(text="two", tier=memd.Tier.ARCHIVE)])
    eng.put_token(DIGEST_A, b"record")
    with pytest.raises(DataDirInUse):
        verify(tmp_path / "store")
    eng.close()
    report = verify(tmp_path / "store")
    assert report.ok and report.problems == []
    assert (report.memories, report.by_tier, report.namespaces, report.tokens) == (
        2, [0, 1, 0, 1], 1, 1,
    )  # fmt: skip
    assert 0 < report.record_bytes < report.file_bytes
    with pytest.raises(NotFound):
        verify(tmp_path / "nothing here")


def test_peek_namespace_reads_what_the_engine_will_act_on():
    retrieve = spb.RetrieveRequest(namespace="first", keys=["k"]).SerializeToString()
    again = spb.RetrieveRequest(namespace="second").SerializeToString()
    # Protobuf merges concatenated messages: the last namespace wins, for both.
    assert peek_namespace(retrieve + again) == "second"
    assert spb.RetrieveRequest.FromString(retrieve + again).namespace == "second"
    for request in (
        spb.SearchRequest(namespace="s", query="q", limit=3),
        spb.ListRequest(namespace="l", page_size=2, reverse=True),
        spb.StatsRequest(namespace="t"),
        spb.DropNamespaceRequest(namespace="d"),
    ):
        assert peek_namespace(request.SerializeToString()) == request.namespace
    assert peek_namespace(b"") == ""
    unknown_field = b"\xa8\x06\x01"  # field 101, varint 1: skipped
    assert peek_namespace(unknown_field + retrieve) == "first"


@pytest.mark.parametrize("payload", [b"\x0a\x05ab", b"\x0a\x02\xff\xfe", b"\x08", b"\xff"], ids=str)
def test_peek_namespace_rejects_malformed_requests(payload):
    with pytest.raises(InvalidArgument, match="malformed request"):
        peek_namespace(payload)
