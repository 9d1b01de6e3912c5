"""The daemon's span of each RPC: parent, name, attributes, status (docs/tracing.md)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from memd_client import AsyncClient, Client, InvalidArgument, Unauthenticated
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc

from .conftest import Agent, StartTraced

SECRET_TEXT = "the user's locker code is 4711"
SECRET_QUERY = "locker code"


def test_a_call_under_an_agent_span_joins_its_trace(start_traced: StartTraced, agent: Agent):
    daemon = start_traced()
    with Client(daemon.target) as client, agent.tracer.start_as_current_span("turn") as turn:
        client.store("ns", [{"text": "hello"}])
    span = daemon.span("Store")
    assert span.kind is SpanKind.SERVER
    assert span.context.trace_id == turn.get_span_context().trace_id
    assert span.parent is not None and span.parent.is_remote
    assert span.parent.span_id == turn.get_span_context().span_id


def test_a_call_outside_any_span_starts_a_trace(start_traced: StartTraced, agent: Agent):
    daemon = start_traced()
    with Client(daemon.target) as client:
        client.store("ns", [{"text": "hello"}])
        with agent.tracer.start_as_current_span("turn") as turn:
            pass
        client.stats()
    store, stats = daemon.span("Store"), daemon.span("Stats")
    assert store.parent is None and stats.parent is None
    assert store.context.trace_id != stats.context.trace_id
    assert turn.get_span_context().trace_id not in (store.context.trace_id, stats.context.trace_id)


def test_a_caller_that_samples_out_gets_no_span(start_traced: StartTraced):
    daemon = start_traced()
    unsampled = TracerProvider(sampler=ALWAYS_OFF).get_tracer("agent")
    with Client(daemon.target) as client, unsampled.start_as_current_span("turn"):
        client.store("ns", [{"text": "hello"}])
        client.stats()
    assert daemon.spans() == []


def test_the_async_client_propagates_too(start_traced: StartTraced, agent: Agent):
    daemon = start_traced()

    async def main() -> None:
        async with AsyncClient(daemon.target) as client:
            with agent.tracer.start_as_current_span("turn"):
                await client.store("ns", [{"text": "hello"}])
                async for _ in client.search("ns", "hello"):
                    pass

    asyncio.run(main())
    (turn,) = agent.exporter.get_finished_spans()
    for method in ("Store", "Search"):
        span = daemon.span(method)
        assert span.parent is not None and span.parent.span_id == turn.context.span_id


def test_each_rpc_is_named_and_attributed_by_the_memory_conventions(start_traced: StartTraced):
    daemon = start_traced()
    with Client(daemon.target) as client:
        keys = client.store("team", [{"text": "a"}, {"text": "b"}, {"text": "c"}]).keys
        one = client.store("team", [{"text": "single"}]).keys[0]
        client.get("team", [one])
        client.get("team", [keys[0], "missing"])
        hits = list(client.search("team", "single"))
        listed = list(client.list("team"))
        client.delete("team", keys[:2])
        client.stats("team")
    pb_grpc.MemoryServiceStub(grpc.insecure_channel(daemon.target)).DropNamespace(
        pb.DropNamespaceRequest(namespace="team")
    )
    by_name = [(s.name, dict(s.attributes or {})) for s in daemon.spans()]
    assert [name for name, _ in by_name] == [
        "upsert_memory",
        "upsert_memory",
        "search_memory",
        "search_memory",
        "search_memory",
        "search_memory",
        "delete_memory",
        "memd.v1.MemoryService/Stats",
        "delete_memory_store",
    ]
    common = {"gen_ai.provider.name": "memd", "rpc.system.name": "grpc"}
    expected = [
        ("Store", "upsert_memory", {"gen_ai.memory.record.count": 3}),
        (
            "Store",
            "upsert_memory",
            {"gen_ai.memory.record.count": 1, "gen_ai.memory.record.id": one},
        ),
        (
            "Retrieve",
            "search_memory",
            {"gen_ai.memory.record.count": 1, "gen_ai.memory.record.id": one},
        ),
        ("Retrieve", "search_memory", {"gen_ai.memory.record.count": 1}),  # one of two found
        ("Search", "search_memory", {"gen_ai.memory.record.count": len(hits)}),
        ("List", "search_memory", {"gen_ai.memory.record.count": len(listed)}),
        ("Delete", "delete_memory", {"gen_ai.memory.record.count": 2}),
    ]
    for (method, op, extra), (_, attrs) in zip(expected, by_name, strict=False):
        assert attrs == {
            **common,
            "rpc.method": f"memd.v1.MemoryService/{method}",
            "gen_ai.operation.name": op,
            "gen_ai.memory.store.id": "team",
            "rpc.response.status_code": "OK",
            **extra,
        }
    assert len(listed) == 4 and len(hits) >= 1
    assert by_name[7][1] == {
        "rpc.system.name": "grpc",
        "rpc.method": "memd.v1.MemoryService/Stats",
        "rpc.response.status_code": "OK",
    }
    assert by_name[8][1] == {
        **common,
        "rpc.method": "memd.v1.MemoryService/DropNamespace",
        "gen_ai.operation.name": "delete_memory_store",
        "gen_ai.memory.store.id": "team",
        "rpc.response.status_code": "OK",
    }


def _stored_and_searched(daemon_target: str) -> None:
    with Client(daemon_target) as client:
        key = client.store("ns", [{"text": SECRET_TEXT, "metadata": {"type": "fact"}}]).keys[0]
        assert [h.memory.key for h in client.search("ns", SECRET_QUERY)] == [key]
        client.get("ns", [key])
        assert [m.key for m in client.list("ns")] == [key]


def test_no_memory_text_or_query_unless_turned_on(start_traced: StartTraced):
    daemon = start_traced()
    _stored_and_searched(daemon.target)
    assert len(daemon.spans()) == 4
    for span in daemon.spans():
        attrs = dict(span.attributes or {})
        assert "gen_ai.memory.records" not in attrs and "gen_ai.memory.query.text" not in attrs
        everything = json.dumps([span.name, attrs, span.status.description])
        assert "locker" not in everything and "4711" not in everything


def test_record_content_puts_records_and_query_in_the_spans(start_traced: StartTraced):
    daemon = start_traced(record_content=True)
    _stored_and_searched(daemon.target)
    store, search = daemon.span("Store"), daemon.span("Search")
    get, listed = daemon.span("Retrieve"), daemon.span("List")
    key = (store.attributes or {})["gen_ai.memory.record.id"]
    record = {"id": key, "content": SECRET_TEXT, "metadata": {"type": "fact"}}
    # The memory records JSON schema: a list of {content, id, metadata, score}.
    assert json.loads(str((store.attributes or {})["gen_ai.memory.records"])) == [record]
    assert json.loads(str((get.attributes or {})["gen_ai.memory.records"])) == [record]
    assert json.loads(str((listed.attributes or {})["gen_ai.memory.records"])) == [record]
    (hit,) = json.loads(str((search.attributes or {})["gen_ai.memory.records"]))
    assert hit.pop("score") > 0 and hit == record
    assert (search.attributes or {})["gen_ai.memory.query.text"] == SECRET_QUERY


def test_a_failed_call_sets_the_error_status(start_traced: StartTraced):
    daemon = start_traced()
    with Client(daemon.target) as client, pytest.raises(InvalidArgument) as refused:
        client.store("ns", [{"text": "x", "importance": 2.0}], atomic=True)
    span = daemon.span("Store")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(refused.value)
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == attrs["rpc.response.status_code"] == "INVALID_ARGUMENT"
    assert attrs["gen_ai.memory.store.id"] == "ns"


def test_a_malformed_request_is_traced_without_what_it_could_not_say(start_traced: StartTraced):
    daemon = start_traced()
    channel = grpc.insecure_channel(daemon.target)
    store = channel.unary_unary("/memd.v1.MemoryService/Store")
    with pytest.raises(grpc.RpcError) as refused:
        store(b"\x0a\xff\xff", timeout=10)  # field 1 claims more bytes than follow
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    attrs = dict(daemon.span("Store").attributes or {})
    assert attrs["error.type"] == "INVALID_ARGUMENT"
    assert "gen_ai.memory.store.id" not in attrs
    channel.close()


def test_an_unauthenticated_call_is_an_error_span(start_traced: StartTraced, tmp_path: Path):
    admin = tmp_path / "admin.token"
    admin.write_text("memd_" + "a" * 43)
    daemon = start_traced(auth="required", admin_token_file=str(admin))
    with Client(daemon.target) as client, pytest.raises(Unauthenticated):
        client.stats()
    span = daemon.span("Stats")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "UNAUTHENTICATED"


def test_a_search_the_client_cancels_ends_cancelled(start_traced: StartTraced):
    # As in the client tests: 2 KB texts, so 1000 hits outgrow the HTTP/2 windows of a
    # channel without BDP probing and the daemon is still sending when the cancel comes.
    daemon = start_traced()
    notes = ({"text": f"note {i} about tea" + " x" * 1000} for i in range(1000))
    with Client(daemon.target, options=[("grpc.http2.bdp_probe", 0)]) as client:
        client.bulk_store("ns", notes)
        with client.search("ns", "tea", limit=1000) as stream:
            first = [next(stream) for _ in range(150)]  # into the second page
            stream.cancel()
    deadline = time.monotonic() + 10
    while not [s for s in daemon.spans() if s.name == "search_memory"]:
        assert time.monotonic() < deadline, "the cancelled search's span never ended"
        time.sleep(0.05)
    span = daemon.span("Search")
    attrs = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attrs["error.type"] == attrs["rpc.response.status_code"] == "CANCELLED"
    assert len(first) <= attrs["gen_ai.memory.record.count"] < 1000


def test_a_store_stream_is_one_operation(start_traced: StartTraced):
    daemon = start_traced()
    with Client(daemon.target) as client:
        client.bulk_store("bulk", ({"text": f"m{i}"} for i in range(2500)), batch_size=1000)
    attrs = dict(daemon.span("StoreStream").attributes or {})
    assert attrs["gen_ai.operation.name"] == "upsert_memory"
    assert attrs["gen_ai.memory.record.count"] == 2500
    assert attrs["gen_ai.memory.store.id"] == "bulk"


def test_a_stream_over_several_namespaces_names_no_store(start_traced: StartTraced):
    daemon = start_traced()
    requests = [
        pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(text=f"in {ns}")])
        for ns in ("a", "b")
    ]
    with grpc.insecure_channel(daemon.target) as channel:
        acks = list(pb_grpc.MemoryServiceStub(channel).StoreStream(iter(requests)))
    assert len(acks) == 2
    attrs = dict(daemon.span("StoreStream").attributes or {})
    assert attrs["gen_ai.memory.record.count"] == 2
    assert "gen_ai.memory.store.id" not in attrs


def test_a_retrieve_stream_counts_what_every_batch_found(start_traced: StartTraced):
    daemon = start_traced()
    with Client(daemon.target) as client:
        keys = client.store("ns", [{"text": "one"}, {"text": "two"}]).keys
    batches = [pb.RetrieveRequest(namespace="ns", keys=[k, k, "gone"]) for k in keys]
    with grpc.insecure_channel(daemon.target) as channel:
        replies = list(pb_grpc.MemoryServiceStub(channel).RetrieveStream(iter(batches)))
    assert [sum(r.found for r in reply.results) for reply in replies] == [2, 2]
    attrs = dict(daemon.span("RetrieveStream").attributes or {})
    assert attrs["gen_ai.operation.name"] == "search_memory"
    assert attrs["gen_ai.memory.record.count"] == 4
    assert attrs["gen_ai.memory.store.id"] == "ns"
    assert "gen_ai.memory.record.id" not in attrs  # two keys (and one missing) in all


def test_a_malformed_traceparent_starts_a_new_trace(start_traced: StartTraced):
    daemon = start_traced()
    with grpc.insecure_channel(daemon.target) as channel:
        pb_grpc.MemoryServiceStub(channel).Stats(
            pb.StatsRequest(), metadata=(("traceparent", "00-not-a-trace-01"),)
        )
    span = daemon.span("Stats")
    assert span.parent is None and span.context.trace_id != 0


def test_a_w3c_parent_from_any_client_is_continued(start_traced: StartTraced, agent: Agent):
    # What the Go and TypeScript clients (or grpcurl) send: the traceparent header.
    daemon = start_traced()
    carrier: dict[str, str] = {}
    with agent.tracer.start_as_current_span("turn") as turn:
        TraceContextTextMapPropagator().inject(carrier)
    with grpc.insecure_channel(daemon.target) as channel:
        stub = pb_grpc.MemoryServiceStub(channel)
        stub.Delete(pb.DeleteRequest(namespace="ns", keys=["k"]), metadata=tuple(carrier.items()))
    span = daemon.span("Delete")
    assert span.parent is not None and span.parent.span_id == turn.get_span_context().span_id
    assert (span.attributes or {})["gen_ai.memory.record.id"] == "k"


def test_health_checks_are_not_traced(start_traced: StartTraced):
    daemon = start_traced()
    with grpc.insecure_channel(daemon.target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert daemon.spans() == []
