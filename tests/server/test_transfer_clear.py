"""Transfer and Clear through a real daemon: what moves and what stays, the conflict
and dimension choices, counters, and bad input answered with its status and no change."""

from __future__ import annotations

import struct
from pathlib import Path

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc

from .daemon import Daemon


def vec(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def store(d: Daemon, ns: str, *memories: mpb.NewMemory) -> None:
    assert not d.stub.Store(pb.StoreRequest(namespace=ns, memories=memories)).errors


def contents(d: Daemon, ns: str) -> dict[str, mpb.Memory]:
    """Every memory of a namespace, by key (namespace field cleared for comparisons)."""
    out = {}
    for m in d.stub.List(pb.ListRequest(namespace=ns, page_size=1000)).memories:
        m.namespace = ""
        out[m.key] = m
    return out


def transfer(d: Daemon, **fields: object) -> pb.TransferResponse:
    reply: pb.TransferResponse = d.stub.Transfer(pb.TransferRequest(**fields))  # type: ignore[arg-type]
    return reply


def refused(d: Daemon, **fields: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        transfer(d, **fields)
    return err.value.code(), err.value.details()


def three(d: Daemon, ns: str) -> None:
    store(
        d,
        ns,
        mpb.NewMemory(key="a", text="alpha", embedding=vec(1, 0), tags=["x"], importance=0.9),
        mpb.NewMemory(key="b", text="beta", value=b"\x00\x01", metadata={"k": "v"}, ttl_ms=10**9),
        mpb.NewMemory(key="c", text="gamma", tier=mpb.TIER_ARCHIVE),
    )


def test_copy_keys_then_move_the_whole_namespace(shared_daemon: Daemon, ns: str) -> None:
    d, src, dst, third = shared_daemon, ns, ns + "/to", ns + "/third"
    three(d, src)
    before = contents(d, src)
    got = transfer(d, namespace=src, target_namespace=dst, keys=["a", "b", "nope", "a"])
    assert (got.transferred, got.missing, got.overwritten) == (2, 1, 0)
    assert contents(d, src) == before, "a copy leaves the source alone"
    assert contents(d, dst) == {k: before[k] for k in ("a", "b")}, "every field, as it was"
    got = transfer(d, namespace=src, target_namespace=third, whole_namespace=True, move=True)
    assert got.transferred == 3
    assert contents(d, src) == {}
    assert contents(d, third) == before
    hits = [
        h.memory.key
        for p in d.stub.Search(pb.SearchRequest(namespace=third, query="beta"))
        for h in p.hits
    ]
    assert hits == ["b"], "searchable where it went"
    stats = {s.namespace: s for s in d.stub.Stats(pb.StatsRequest()).namespaces}
    assert stats[third].dimension == 2

    def counter(space: str, name: str) -> int:
        return sum(t.counters.get(name, 0) for t in stats[space].tiers)

    assert counter(src, "transferred.out") == 3
    assert counter(third, "transferred.in") == 3
    assert counter(dst, "transferred.in") == 2


def test_conflicts_fail_skip_or_overwrite(shared_daemon: Daemon, ns: str) -> None:
    d, src, dst = shared_daemon, ns, ns + "/to"
    three(d, src)
    store(d, dst, mpb.NewMemory(key="b", text="theirs"))
    before = (contents(d, src), contents(d, dst))
    code, details = refused(d, namespace=src, target_namespace=dst, whole_namespace=True, move=True)
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert '"b"' in details and "nothing was transferred" in details
    assert (contents(d, src), contents(d, dst)) == before, "nothing moved"
    skip = pb.TRANSFER_CONFLICT_SKIP
    got = transfer(d, namespace=src, target_namespace=dst, keys=["a", "b"], on_conflict=skip)
    assert (got.transferred, got.skipped_existing) == (1, 1)
    assert contents(d, dst)["b"].text == "theirs"
    over = pb.TRANSFER_CONFLICT_OVERWRITE
    got = transfer(d, namespace=src, target_namespace=dst, keys=["b"], on_conflict=over, move=True)
    assert (got.transferred, got.overwritten) == (1, 1)
    assert contents(d, dst)["b"] == before[0]["b"]
    assert "b" not in contents(d, src)


def test_dimension_mismatches_fail_skip_or_drop_the_embedding(
    shared_daemon: Daemon, ns: str
) -> None:
    d, src, dst = shared_daemon, ns, ns + "/to"
    three(d, src)  # "a" has a 2-d vector
    store(d, dst, mpb.NewMemory(key="z", text="other", embedding=vec(1, 0, 0)))
    before = contents(d, dst)
    code, details = refused(d, namespace=src, target_namespace=dst, whole_namespace=True)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "2-dimensional" in details and "uses 3" in details
    assert contents(d, dst) == before
    skip = pb.TRANSFER_DIMENSION_SKIP
    got = transfer(
        d, namespace=src, target_namespace=dst, keys=["a", "b"], on_dimension_mismatch=skip
    )
    assert (got.transferred, got.skipped_dimension) == (1, 1)
    drop = pb.TRANSFER_DIMENSION_DROP_EMBEDDING
    got = transfer(d, namespace=src, target_namespace=dst, keys=["a"], on_dimension_mismatch=drop)
    assert (got.transferred, got.dropped_embeddings) == (1, 1)
    moved = contents(d, dst)["a"]
    assert moved.embedding == b"" and moved.text == "alpha"


def test_bad_transfers_are_refused_and_change_nothing(shared_daemon: Daemon, ns: str) -> None:
    d, src, dst = shared_daemon, ns, ns + "/to"
    three(d, src)
    before = contents(d, src)
    cases: list[tuple[dict[str, object], grpc.StatusCode]] = [
        ({"target_namespace": src, "keys": ["a"]}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"target_namespace": dst}, grpc.StatusCode.INVALID_ARGUMENT),  # no keys
        (
            {"target_namespace": dst, "keys": ["a"], "whole_namespace": True},
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ({"target_namespace": "", "keys": ["a"]}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"target_namespace": dst, "keys": [""]}, grpc.StatusCode.INVALID_ARGUMENT),
        (
            {"target_namespace": dst, "keys": ["a"], "on_conflict": 9},
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            {"target_namespace": dst, "keys": ["a"], "on_dimension_mismatch": 7},
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            {"namespace": ns + "/none", "target_namespace": dst, "keys": ["a"]},
            grpc.StatusCode.NOT_FOUND,
        ),
    ]
    for fields, code in cases:
        assert refused(d, **{"namespace": src, **fields})[0] == code, fields
    assert contents(d, src) == before
    assert dst not in d.stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces


def test_clear_empties_one_tier_or_all_and_keeps_the_namespace(
    shared_daemon: Daemon, ns: str
) -> None:
    d = shared_daemon
    three(d, ns)  # a, b in SHORT_TERM; c in ARCHIVE
    assert d.stub.Clear(pb.ClearRequest(namespace=ns, tier=mpb.TIER_ARCHIVE)).removed == 1
    assert sorted(contents(d, ns)) == ["a", "b"]
    assert d.stub.Clear(pb.ClearRequest(namespace=ns, tier=mpb.TIER_WORKING)).removed == 0
    assert d.stub.Clear(pb.ClearRequest(namespace=ns)).removed == 2
    assert contents(d, ns) == {}
    stats = d.stub.Stats(pb.StatsRequest(namespace=ns)).namespaces[0]
    assert stats.dimension == 2, "the namespace and its dimension stay"
    assert sum(t.counters.get("cleared", 0) for t in stats.tiers) == 3
    assert d.stub.Clear(pb.ClearRequest(namespace=ns)).removed == 0
    for request, code in [
        (pb.ClearRequest(namespace=ns + "/none"), grpc.StatusCode.NOT_FOUND),
        (pb.ClearRequest(namespace=ns, tier=9), grpc.StatusCode.INVALID_ARGUMENT),  # type: ignore[arg-type]
        (pb.ClearRequest(namespace=""), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.RpcError) as err:
            d.stub.Clear(request)
        assert err.value.code() == code


def test_access_rules_check_both_namespaces(tmp_path: Path) -> None:
    d = Daemon(
        tmp_path / "data",
        tokens={
            "reader": "src/*=read;dst/*=write",
            "mover": "src/*=read,delete;dst/*=write",
            "writer": "src/*=write;dst/*=write",
            "nodst": "src/*=read,delete",
        },
    )
    try:
        three(d, "src/a")
        store(d, "dst/a", mpb.NewMemory(key="keep", text="kept"))
        src, dst = contents(d, "src/a"), contents(d, "dst/a")

        def call(token: str, method: str, request: object) -> grpc.StatusCode:
            stub = pb_grpc.MemoryServiceStub(d.connect(d.tokens[token]))
            try:
                reply = getattr(stub, method)(request)
                if method == "BatchSearch":
                    list(reply)
            except grpc.RpcError as err:
                return err.code()  # type: ignore[no-any-return]
            return grpc.StatusCode.OK

        copy = pb.TransferRequest(namespace="src/a", target_namespace="dst/a", keys=["a"])
        move = pb.TransferRequest(
            namespace="src/a", target_namespace="dst/a", keys=["a"], move=True
        )
        denied = grpc.StatusCode.PERMISSION_DENIED
        assert call("reader", "Transfer", move) == denied, "a move needs DELETE on the source"
        assert call("writer", "Transfer", copy) == denied, "a copy needs READ on the source"
        assert call("nodst", "Transfer", copy) == denied, "and WRITE on the target"
        assert call("reader", "Clear", pb.ClearRequest(namespace="src/a")) == denied
        assert (contents(d, "src/a"), contents(d, "dst/a")) == (src, dst), "nothing changed"
        sneaky = pb.BatchSearchRequest(
            namespace="src/a", queries=[pb.SearchRequest(namespace="dst/a", query="kept")]
        )
        assert call("reader", "BatchSearch", sneaky) == grpc.StatusCode.INVALID_ARGUMENT
        assert call("writer", "BatchSearch", pb.BatchSearchRequest(namespace="src/a")) == denied
        assert call("reader", "Transfer", copy) == grpc.StatusCode.OK
        assert call("mover", "Transfer", move) == grpc.StatusCode.ALREADY_EXISTS
        assert call("mover", "Clear", pb.ClearRequest(namespace="src/a")) == grpc.StatusCode.OK
    finally:
        d.close()
