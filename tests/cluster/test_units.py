"""The pure parts of cluster mode: hashing, keys, entries, ranking, options."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from daemon_launcher import refused_start

from memd._core import fill_store_keys
from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.cluster.call_meta import CallMeta
from memd.cluster.entry import Entry
from memd.cluster.fanout import served_header, served_of
from memd.cluster.forward import Forwarder
from memd.cluster.leasing import lease_lapsed
from memd.cluster.options import ClusterOptions, nats_urls, node_id
from memd.cluster.owner_status import as_memd_error, relayed_error
from memd.cluster.partition import partition_of
from memd.cluster.placement import NodeRecord, Placement, Pool, rank
from memd.cluster.replica import PartitionState
from memd.cluster.servicer import _PEEK
from memd.cluster.take import serve_from
from memd.config_parse import ConfigError
from memd.engine import Engine
from memd.errors import InvalidArgument, MemdError, Unavailable
from memd.server.status import STATUS_OF, to_status


def test_the_partition_hash_is_the_documented_one() -> None:
    # BLAKE2b-64 of the UTF-8 name, big-endian, modulo the count (ClusterResponse).
    import hashlib

    for ns in ["a", "agent:planner/user:42", "ünïcode"]:
        digest = hashlib.blake2b(ns.encode(), digest_size=8).digest()
        assert partition_of(ns, 16) == int.from_bytes(digest, "big") % 16
    spread = {partition_of(f"ns{i}", 16) for i in range(200)}
    assert spread == set(range(16))


def test_keys_filled_by_the_owner_are_time_ordered_and_kept_when_given() -> None:
    request = pb.StoreRequest(
        namespace="n", memories=[mpb.NewMemory(key="mine", text="a"), mpb.NewMemory(text="b")]
    ).SerializeToString()
    payload, namespace, items = fill_store_keys(request, 1_700_000_000_000)
    parsed = pb.StoreRequest.FromString(payload)
    assert (namespace, items, parsed.memories[0].key) == ("n", 2, "mine")
    assert [m.text for m in parsed.memories] == ["a", "b"]
    made = [
        pb.StoreRequest.FromString(fill_store_keys(request, ms)[0]).memories[1].key
        for ms in (1, 2, 1 << 40, 1_700_000_000_000)
    ]
    assert made[0] < made[1] < made[2] and all(len(k) == 26 for k in made)
    many = pb.StoreRequest(namespace="n", memories=[mpb.NewMemory()] * 1000)
    keys = [m.key for m in pb.StoreRequest.FromString(
        fill_store_keys(many.SerializeToString(), 1_700_000_000_000)[0]
    ).memories]  # fmt: skip
    assert len(set(keys)) == 1000 and keys == sorted(keys)
    # The layout of the engine's keys (rust_core/src/store/keys.rs): 48-bit ms time,
    # then 80 random bits, as one 128-bit number in Crockford base 32.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = 0
    for char in made[3]:
        value = value * 32 + alphabet.index(char)
    assert value >> 80 == 1_700_000_000_000 and value < 1 << 128
    untouched = pb.StoreRequest(
        namespace="n", memories=[mpb.NewMemory(key="k")]
    ).SerializeToString()
    assert fill_store_keys(untouched, 5)[0] is untouched
    with pytest.raises(InvalidArgument, match="malformed"):
        fill_store_keys(b"\xff\xff\xff", 5)


def test_entries_round_trip_through_headers_and_foreign_messages_are_refused() -> None:
    entry = Entry("store", b"payload", 123, 4, "memd-1")
    headers = entry.headers(expected_last=9)
    assert headers["Nats-Expected-Last-Subject-Sequence"] == "9"
    assert Entry.from_message(headers, b"payload") == entry
    with pytest.raises(ValueError, match="not a memd log entry"):
        Entry.from_message({"Memd-Kind": "rm -rf"}, b"")
    with pytest.raises(ValueError):
        Entry.from_message(None, b"")


def test_placement_records_round_trip_and_ranking_is_the_same_everywhere() -> None:
    record = Placement("memd-1", 3, 99, ("memd-2", "memd-3"))
    assert Placement.decode(record.encode()) == record
    assert NodeRecord.decode(NodeRecord("h:1", 5).encode()) == NodeRecord("h:1", 5)
    nodes = ["memd-1", "memd-2", "memd-3"]
    assert rank(7, nodes) == rank(7, list(reversed(nodes)))
    firsts = {rank(p, nodes)[0] for p in range(32)}
    assert firsts == set(nodes), "owners spread over the nodes"


def test_cluster_options_parse_and_resolve() -> None:
    assert nats_urls("nats://a:1, nats://b:2") == "nats://a:1,nats://b:2"
    with pytest.raises(ConfigError, match="nats://"):
        nats_urls("http://a:1")
    with pytest.raises(ConfigError, match="node id"):
        node_id("a.b")
    opts = ClusterOptions(url="nats://a:1", node_id="n1").resolved(("unix:///s", "10.0.0.1:5"))
    assert opts.advertise == "10.0.0.1:5" and opts.enabled and opts.servers == ["nats://a:1"]
    with pytest.raises(ConfigError, match="advertise"):
        ClusterOptions(url="nats://a:1").resolved(("127.0.0.1:0",))
    assert not ClusterOptions().enabled


class _OwnerFailure(grpc.RpcError, grpc.Call):
    """What a forwarded call raises when the owner answered with `code`."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "from the owner"


def test_an_owner_failure_is_relayed_with_the_owner_status() -> None:
    # Every status one of our errors maps to comes back as that status, so a forwarded
    # call fails as a direct one would (DATA_LOSS included, not turned into UNAVAILABLE).
    codes = {code for cls, code in STATUS_OF.items() if issubclass(cls, MemdError)}
    codes.discard(grpc.StatusCode.UNAVAILABLE)  # the owner's UNAVAILABLE: try again
    for code in codes:
        relayed = as_memd_error(_OwnerFailure(code), "n1")
        assert to_status(relayed)[0] == code, code
    assert isinstance(
        as_memd_error(_OwnerFailure(grpc.StatusCode.DEADLINE_EXCEEDED), "n1"), Unavailable
    )


def test_a_relayed_status_number_maps_as_grpcio_s_status() -> None:
    # The Rust relay reports a status as its number; it must raise what grpcio's would.
    for code in grpc.StatusCode:
        if code is grpc.StatusCode.OK:
            continue
        by_number = relayed_error(code.value[0], "from the owner", "n1")
        by_grpcio = as_memd_error(_OwnerFailure(code), "n1")
        assert (type(by_number), str(by_number)) == (type(by_grpcio), str(by_grpcio)), code
    assert isinstance(relayed_error(99, "?", "n1"), Unavailable)  # unknown: UNKNOWN


def test_the_pool_deals_to_ready_active_nodes_and_falls_back_to_active() -> None:
    now, lease = 100_000, 1_500
    nodes = {
        "a": NodeRecord("a:1", now),
        "b": NodeRecord("b:1", now, draining=True),
        "c": NodeRecord("c:1", now, ready=False),
        "d": NodeRecord("d:1", now - 2 * lease),  # gone
    }
    pool = Pool.of(nodes, now, lease)
    assert set(pool.live) == {"a", "b", "c"} and set(pool.active) == {"a", "c"}
    assert set(pool.eligible) == {"a", "c"}  # not ready is still eligible (see Pool)
    assert {pool.best(p) for p in range(16)} == {"a", "c"}
    assert all(pool.best(p, exclude="a") == "c" for p in range(16))
    assert all(set(pool.followers(p, "a", 2)) == {"c"} for p in range(16))
    assert Pool.of({"a": nodes["a"]}, now, lease).best(0, exclude="a") is None
    # One replica: no followers, except the best node while another owns the partition
    # (it must catch up as a follower before it is handed the partition).
    for p in range(16):
        best = pool.best(p)
        other = "c" if best == "a" else "a"
        assert pool.followers(p, best, 0) == ()
        assert pool.followers(p, other, 0) == (best,)
    # The ranking is rendezvous: removing a node moves only the partitions it was best for.
    three = Pool.of({n: NodeRecord(n, now) for n in "xyz"}, now, lease)
    two = Pool.of({n: NodeRecord(n, now) for n in "xy"}, now, lease)
    for p in range(64):
        if three.best(p) != "z":
            assert two.best(p) == three.best(p)
    # Records written by the first phase (no flags) read as ready and not draining.
    old = NodeRecord.decode(b'{"address": "a:1", "seen_ms": 5}')
    assert old == NodeRecord("a:1", 5) and NodeRecord.decode(old.encode()) == old
    full = NodeRecord("a:1", 5, draining=True, ready=False, caught_up=(1, 4))
    assert NodeRecord.decode(full.encode()) == full
    record = Placement("a", 3, 99, ("b", "c"), seq=17)
    assert Placement.decode(record.encode()) == record
    assert (
        Placement.decode(b'{"owner": "a", "epoch": 1, "lease_until_ms": 2, "followers": []}').seq
        == -1
    )


def test_served_partitions_round_trip_through_trailing_metadata() -> None:
    assert served_of(served_header({3, 0, 11})) == {0, 3, 11}
    assert served_of(served_header(())) == set()
    assert served_of([("other", "1")]) == set()


class _Caller:
    """The parts of a servicer context the forwarder reads."""

    def __init__(self, *metadata: tuple[str, str]) -> None:
        self.metadata = list(metadata) or [("authorization", "Bearer t")]

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata

    def time_remaining(self) -> float:
        return 10.0


def test_call_meta_reads_routing_facts_and_what_a_forwarded_copy_carries() -> None:
    meta = CallMeta(
        _Caller(
            (":authority", "x"),
            ("user-agent", "grpc-python"),
            ("grpc-accept-encoding", "gzip"),
            ("authorization", "Bearer t"),
            ("memd-namespace", "team:a"),
            ("memd-max-staleness-ms", "250"),
            ("trace-bin", b"\x01"),  # type: ignore[arg-type]
        ),
        "n0",
    )
    assert (meta.namespace, meta.max_staleness, meta.forwarded) == ("team:a", "250", False)
    assert meta.relayed == [
        ("authorization", "Bearer t"),
        ("memd-namespace", "team:a"),
        ("memd-max-staleness-ms", "250"),
        ("trace-bin", b"\x01"),
        ("memd-forwarded", "n0"),
    ]
    again = CallMeta(_Caller(("memd-forwarded", "n9"), ("authorization", "Bearer t")), "n0")
    assert again.forwarded and again.namespace is None and again.max_staleness is None
    assert again.relayed == [("authorization", "Bearer t"), ("memd-forwarded", "n0")]


def test_the_owner_reads_as_a_peek_whatever_the_request_said(tmp_path: Path) -> None:
    # The owner appends _PEEK to the bytes instead of decoding and re-encoding the
    # request: the engine's decoder must take the last value, as protobuf's does.
    request = pb.RetrieveRequest(namespace="ns", keys=["k"], peek=False).SerializeToString()
    assert pb.RetrieveRequest.FromString(request + _PEEK).peek
    with Engine(tmp_path / "d") as engine:
        engine.store_encoded(
            pb.StoreRequest(
                namespace="ns", memories=[mpb.NewMemory(key="k", text="t")]
            ).SerializeToString()
        )
        engine.retrieve_encoded(request + _PEEK)
        engine.retrieve_encoded(request + _PEEK)
        memory = engine.get_many("ns", ["k"], count_access=False)[0]
        assert memory is not None and memory.access_count == 0
        engine.retrieve_encoded(request)  # without it, an access is counted
        memory = engine.get_many("ns", ["k"], count_access=False)[0]
        assert memory is not None and memory.access_count == 1


def test_a_forwarded_read_is_resent_with_a_longer_bound_and_given_up_when_the_owner_moved() -> None:
    # A real gRPC server standing in for the owner: every call takes 0.3 s.
    calls: list[dict[str, str]] = []

    def slow(request: bytes, context: grpc.ServicerContext) -> bytes:
        calls.append(dict(context.invocation_metadata()))
        time.sleep(0.3)
        return request

    server = grpc.server(ThreadPoolExecutor(4))
    handler = grpc.unary_unary_rpc_method_handler(slow)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("memd.v1.MemoryService", {"Retrieve": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    fwd = Forwarder("n0", 1 << 20)
    owner = ("n1", f"127.0.0.1:{port}")
    try:
        # Bounds 0.1 and 0.2 s run out; the owner still holds the partition; 0.4 s does.
        caller = _Caller()
        meta = CallMeta(caller, "n0")
        assert fwd.read(owner, "Retrieve", b"req", caller, meta, lambda: True, 0.1) == b"req"
        assert len(calls) == 3
        assert calls[0]["authorization"] == "Bearer t" and calls[0]["memd-forwarded"] == "n0"
        with pytest.raises(Unavailable, match="lost the partition"):
            fwd.read(owner, "Retrieve", b"req", caller, meta, lambda: False, 0.1)
    finally:
        fwd.close()
        server.stop(None)


def test_a_take_over_overtaken_while_catching_up_does_not_serve() -> None:
    # Our barrier is at 5; another node took the partition meanwhile and its barrier
    # (6) was applied by our applier: serving at our epoch would pass the log's fence
    # (the next write expects 6) and append an older epoch after a newer one.
    overtaken = PartitionState(3, applied=6)
    assert not serve_from(overtaken, barrier=5, epoch=2)
    assert not overtaken.serving and overtaken.epoch == 0
    caught_up = PartitionState(3, applied=5)
    assert serve_from(caught_up, barrier=5, epoch=2)
    assert caught_up.serving and caught_up.epoch == 2


def test_a_node_with_an_archive_refuses_to_start(tmp_path: Path) -> None:
    # Offloading to object storage would rewrite records on one replica alone. Refused
    # before the node contacts NATS or the object store (neither runs here).
    stderr = refused_start(
        tmp_path / "d",
        *("--embed-backend", "none", "--cluster", "nats://127.0.0.1:9"),
        *("--archive-endpoint", "http://127.0.0.1:9"),
    )
    assert "archive: an object-storage archive is not supported in cluster mode" in stderr


def test_a_lease_read_live_is_trusted_for_a_lease_after_the_read() -> None:
    lease = 3_000
    # Lapsed already when read: lapsed, however fresh the read.
    assert lease_lapsed(lease_until_ms=10_000, read_ms=10_001, lease_ms=lease, now_ms=10_002)
    # Live when read, lapsed by the clock since, read 2 s ago: this node's tick is late
    # and the owner has probably renewed: not lapsed (a late tick used to make every
    # forwarded call UNAVAILABLE).
    assert not lease_lapsed(lease_until_ms=10_000, read_ms=9_000, lease_ms=lease, now_ms=11_000)
    # The same read more than a lease old: the view is too old, the clock decides.
    assert lease_lapsed(lease_until_ms=10_000, read_ms=9_000, lease_ms=lease, now_ms=12_001)
    assert not lease_lapsed(lease_until_ms=13_000, read_ms=9_000, lease_ms=lease, now_ms=12_001)
    # Live and fresh.
    assert not lease_lapsed(lease_until_ms=12_000, read_ms=9_000, lease_ms=lease, now_ms=9_500)
