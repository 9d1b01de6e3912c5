"""Store, retrieve, list, delete and admin RPCs through a real daemon."""

from __future__ import annotations

import struct
import time

import grpc
import pytest

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

from .daemon import Daemon


def vec(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def store(d: Daemon, ns: str, *items: mpb.NewMemory, atomic: bool = False) -> pb.StoreResponse:
    return d.stub.Store(pb.StoreRequest(namespace=ns, memories=items, atomic=atomic))


def retrieve(d: Daemon, ns: str, *keys: str, peek: bool = False) -> list[mpb.RetrieveResult]:
    return list(d.stub.Retrieve(pb.RetrieveRequest(namespace=ns, keys=keys, peek=peek)).results)


def test_store_then_retrieve_returns_every_field(shared_daemon: Daemon, ns: str) -> None:
    item = mpb.NewMemory(
        key="fact:1",
        text="the sky is blue",
        value=b"\x00\x01binary",
        embedding=vec(0.25, -1.5, 3.0),
        tags=["colour", "sky"],
        metadata={"type": "fact", "category": "world"},
        importance=0.9,
        priority=3,
        ttl_ms=3_600_000,
        tier=mpb.TIER_LONG_TERM,
    )
    ack = store(shared_daemon, ns, item)
    assert list(ack.keys) == ["fact:1"] and list(ack.versions) == [1] and not ack.errors
    assert list(ack.tiers) == [mpb.TIER_LONG_TERM]
    [got] = retrieve(shared_daemon, ns, "fact:1", peek=True)
    assert got.found and got.key == "fact:1"
    m = got.memory
    assert (m.namespace, m.key, m.text, m.value) == (ns, "fact:1", item.text, item.value)
    assert m.embedding == item.embedding
    assert list(m.tags) == ["colour", "sky"] and dict(m.metadata) == dict(item.metadata)
    assert m.importance == pytest.approx(0.9, abs=1e-6)
    assert (m.priority, m.ttl_ms, m.version) == (3, 3_600_000, 1)
    assert m.tier == mpb.TIER_LONG_TERM and m.access_count == 0
    assert m.expires_at_ms == m.created_ms + 3_600_000


def test_missing_keys_are_reported_per_key(shared_daemon: Daemon, ns: str) -> None:
    store(shared_daemon, ns, mpb.NewMemory(key="here", text="x"))
    results = retrieve(shared_daemon, ns, "absent", "here", "also-absent")
    assert [(r.key, r.found) for r in results] == [
        ("absent", False),
        ("here", True),
        ("also-absent", False),
    ]
    assert not results[0].HasField("memory")


def test_server_makes_time_ordered_keys_and_versions_count_updates(
    shared_daemon: Daemon, ns: str
) -> None:
    ack = store(shared_daemon, ns, *[mpb.NewMemory(text=f"m{i}") for i in range(5)])
    keys = list(ack.keys)
    assert all(keys) and len(set(keys)) == 5 and keys == sorted(keys)
    again = store(shared_daemon, ns, mpb.NewMemory(key=keys[0], text="updated"))
    assert list(again.versions) == [2]
    [got] = retrieve(shared_daemon, ns, keys[0])
    assert got.memory.text == "updated" and got.memory.version == 2


def test_peek_does_not_count_an_access(shared_daemon: Daemon, ns: str) -> None:
    store(shared_daemon, ns, mpb.NewMemory(key="k", text="x"))
    retrieve(shared_daemon, ns, "k", peek=True)
    [seen] = retrieve(shared_daemon, ns, "k", peek=True)
    assert seen.memory.access_count == 0
    retrieve(shared_daemon, ns, "k")
    [seen] = retrieve(shared_daemon, ns, "k", peek=True)
    assert seen.memory.access_count == 1


def test_per_item_errors_store_the_valid_items(shared_daemon: Daemon, ns: str) -> None:
    ack = store(
        shared_daemon,
        ns,
        mpb.NewMemory(key="good:1", embedding=vec(1, 2)),
        mpb.NewMemory(key="bad:importance", text="bad:importance", importance=1.5),
        mpb.NewMemory(key="bad:dimension", embedding=vec(1, 2, 3)),
        mpb.NewMemory(key="bad\x00nul", text="bad\x00nul"),
        mpb.NewMemory(key="good:2", text="fine"),
    )
    assert [e.index for e in ack.errors] == [1, 2, 3]
    assert all(e.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] for e in ack.errors)
    assert all(e.message for e in ack.errors)
    assert list(ack.versions) == [1, 0, 0, 0, 1]
    assert list(ack.tiers)[1:4] == [mpb.TIER_UNSPECIFIED] * 3
    found = {
        r.key: r.found
        for r in retrieve(shared_daemon, ns, "good:1", "good:2", "bad:importance", "bad:dimension")
    }
    assert found == {
        "good:1": True,
        "good:2": True,
        "bad:importance": False,
        "bad:dimension": False,
    }


def test_store_stream_acks_every_batch_in_order(shared_daemon: Daemon, ns: str) -> None:
    batches, per_batch = 40, 250
    requests = (
        pb.StoreRequest(
            namespace=ns,
            batch_id=b,
            memories=[
                mpb.NewMemory(key=f"b{b:03d}:{i:04d}", text=f"{b} {i}") for i in range(per_batch)
            ],
        )
        for b in range(batches)
    )
    acks = list(shared_daemon.stub.StoreStream(requests))
    assert [a.batch_id for a in acks] == list(range(batches))
    assert all(len(a.keys) == per_batch and not a.errors for a in acks)
    keys = [k for a in acks for k in a.keys]
    results = shared_daemon.stub.RetrieveStream(
        pb.RetrieveRequest(namespace=ns, keys=keys[i : i + 1000], peek=True)
        for i in range(0, len(keys), 1000)
    )
    got = [r for response in results for r in response.results]
    assert len(got) == batches * per_batch and all(r.found for r in got)
    assert [r.key for r in got] == keys


def test_list_pages_through_everything_in_key_order(shared_daemon: Daemon, ns: str) -> None:
    keys = [f"k{i:03d}" for i in range(25)]
    store(shared_daemon, ns, *[mpb.NewMemory(key=k, text=k) for k in reversed(keys)])
    seen, token, pages = [], "", 0
    while True:
        page = shared_daemon.stub.List(pb.ListRequest(namespace=ns, page_size=10, page_token=token))
        seen += [m.key for m in page.memories]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == keys and pages == 3
    newest = shared_daemon.stub.List(pb.ListRequest(namespace=ns, page_size=5, reverse=True))
    assert [m.key for m in newest.memories] == keys[::-1][:5]


def test_delete_removes_only_the_named_keys(shared_daemon: Daemon, ns: str) -> None:
    store(shared_daemon, ns, *[mpb.NewMemory(key=k, text=k) for k in ("a", "b", "c")])
    response = shared_daemon.stub.Delete(pb.DeleteRequest(namespace=ns, keys=["a", "x", "c"]))
    assert list(response.deleted) == [True, False, True] and response.deleted_count == 2
    assert [r.found for r in retrieve(shared_daemon, ns, "a", "b", "c")] == [False, True, False]


def test_expired_memories_are_never_returned_and_get_swept(shared_daemon: Daemon, ns: str) -> None:
    store(
        shared_daemon,
        ns,
        mpb.NewMemory(key="brief", text="brief", ttl_ms=1),
        mpb.NewMemory(key="kept", text="kept"),
    )
    time.sleep(0.05)  # let the 1 ms TTL pass; the assertion is on behaviour, not speed
    assert [r.found for r in retrieve(shared_daemon, ns, "brief", "kept")] == [False, True]
    shared_daemon.stub.Sweep(pb.SweepRequest())
    listed = shared_daemon.stub.List(pb.ListRequest(namespace=ns))
    assert [m.key for m in listed.memories] == ["kept"]


def test_stats_and_namespaces_reflect_the_store(shared_daemon: Daemon, ns: str) -> None:
    store(
        shared_daemon,
        ns,
        *[mpb.NewMemory(key=f"k{i}", embedding=vec(1, 0, 0, 1)) for i in range(7)],
    )
    stats = shared_daemon.stub.Stats(pb.StatsRequest(namespace=ns))
    [one] = stats.namespaces
    assert one.namespace == ns and one.dimension == 4
    assert [t.tier for t in one.tiers] == [1, 2, 3, 4]
    assert sum(t.count for t in one.tiers) == 7
    assert stats.map_size_bytes > stats.map_used_bytes > 0
    assert ns in shared_daemon.stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces
    unknown = shared_daemon.stub.Stats(pb.StatsRequest(namespace=ns + ":unknown"))
    assert not unknown.namespaces


def test_drop_namespace_removes_it_and_only_it(shared_daemon: Daemon, ns: str) -> None:
    other = ns + ":other"
    store(shared_daemon, ns, *[mpb.NewMemory(key=f"k{i}", text=f"k{i}") for i in range(3)])
    store(shared_daemon, other, mpb.NewMemory(key="stays", text="stays"))
    dropped = shared_daemon.stub.DropNamespace(pb.DropNamespaceRequest(namespace=ns))
    assert dropped.removed == 3
    names = shared_daemon.stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces
    assert ns not in names and other in names
    assert not retrieve(shared_daemon, ns, "k0")[0].found
