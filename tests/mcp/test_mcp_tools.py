"""``memd mcp`` end to end: the SDK's client, a real ``memd mcp`` process, a real daemon.

The same conversation runs over stdio and Streamable HTTP: each tool's text and
structured content (which the client also checks against the tool's output schema)
and what the daemon then holds.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
from daemon_launcher import Daemon
from mcp_host import MAX_TEXT, connect, stored

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb

TURNS = [
    ("user", "I am planning a trip to Kyoto in April", ["travel"]),
    ("assistant", "Noted: Kyoto in April, cherry blossom season", ["travel"]),
    ("user", "I drink green tea, never coffee", ["preference"]),
]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _text(result: object) -> str:
    [block] = result.content  # type: ignore[attr-defined]
    return str(block.text)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_a_conversation_through_every_tool(daemon: Daemon, transport: str) -> None:
    ns = f"mcp/{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        async with connect(transport, daemon, "--namespace", ns) as client:
            tools = (await client.list_tools()).tools
            assert [t.name for t in tools] == [
                "remember",
                "recall",
                "search",
                "list_recent",
                "forget",
            ]
            _check_schemas(tools)

            keys = []
            for role, text, tags in TURNS:
                args = {
                    "text": text,
                    "tags": tags,
                    "metadata": {"role": role, "conversation": "c1"},
                }
                r = await client.call_tool("remember", args)
                assert not r.is_error, _text(r)
                out = r.structured_content
                assert out == {
                    "namespace": ns,
                    "key": out["key"],
                    "tier": "short_term",
                    "version": 1,
                    "merged": False,
                }
                assert _text(r) == f"Remembered as {out['key']} (short_term)."
                keys.append(out["key"])
            # The same text again updates that memory (the daemon's exact dedup).
            r = await client.call_tool("remember", {"text": TURNS[2][1]})
            assert (r.structured_content["key"], r.structured_content["merged"]) == (keys[2], True)
            assert (
                _text(r) == f"Already remembered: updated memory {keys[2]} (short_term, version 2)."
            )
            held = stored(daemon, ns)
            assert [m.key for m in held] == keys  # server-made keys sort by time
            assert [(m.metadata["role"], m.text, list(m.tags)) for m in held] == TURNS

            # The conversation window: the latest two, oldest first, then one page back.
            r = await client.call_tool("list_recent", {"limit": 2})
            window = r.structured_content
            assert [m["key"] for m in window["memories"]] == keys[1:]
            assert [m["text"] for m in window["memories"]] == [t[1] for t in TURNS[1:]]
            assert window["older_cursor"]
            text = _text(r)
            assert text.index(keys[1]) < text.index(keys[2])
            assert f"before_cursor={window['older_cursor']!r}" in text
            r = await client.call_tool(
                "list_recent", {"limit": 2, "before_cursor": window["older_cursor"]}
            )
            assert [m["key"] for m in r.structured_content["memories"]] == keys[:1]
            assert r.structured_content["older_cursor"] == ""

            # Search ranks by the query and filters by metadata.
            r = await client.call_tool("search", {"query": "tea"})
            hits = r.structured_content["hits"]
            assert [h["key"] for h in hits] == [keys[2]]
            assert hits[0]["score"] > 0 and hits[0]["tags"] == ["preference"]
            assert keys[2] in _text(r) and "green tea" in _text(r)
            r = await client.call_tool(
                "search", {"query": "Kyoto", "metadata": {"role": "assistant"}}
            )
            assert [h["key"] for h in r.structured_content["hits"]] == [keys[1]]
            r = await client.call_tool("search", {"query": "Kyoto", "tags_any": ["preference"]})
            assert r.structured_content["hits"] == []
            assert _text(r) == "No memory matches 'Kyoto'."

            # Recall reads by key and names the missing ones.
            r = await client.call_tool("recall", {"keys": [keys[0], "no-such-key"]})
            [memory] = r.structured_content["memories"]
            assert memory["key"] == keys[0] and memory["text"] == TURNS[0][1]
            assert memory["metadata"] == {"role": "user", "conversation": "c1"}
            assert memory["importance"] == 0.5 and ISO_UTC.match(memory["created_at"])
            assert r.structured_content["missing"] == ["no-such-key"]
            assert _text(r).endswith("Not found: no-such-key")

            # Forget deletes for good.
            r = await client.call_tool("forget", {"keys": [keys[0], "no-such-key"]})
            assert r.structured_content == {
                "namespace": ns,
                "deleted": [keys[0]],
                "not_found": ["no-such-key"],
            }
            assert [m.key for m in stored(daemon, ns)] == keys[1:]

            # within_minutes leaves out what was stored (here: imported) longer ago.
            two_hours_ago = time.time_ns() // 1_000_000 - 2 * 3_600_000
            imported = mpb.NewMemory(
                text="an old note", history=mpb.MemoryHistory(created_ms=two_hours_ago)
            )
            daemon.stub.Store(pb.StoreRequest(namespace=ns, memories=[imported]), timeout=30)
            r = await client.call_tool("list_recent", {})
            assert [m["text"] for m in r.structured_content["memories"]][-1] == "an old note"
            r = await client.call_tool("list_recent", {"within_minutes": 60})
            assert [m["key"] for m in r.structured_content["memories"]] == keys[1:]

            # A text over the daemon's limit: its own INVALID_ARGUMENT message, nothing stored.
            too_long = "x" * (MAX_TEXT + 1)
            r = await client.call_tool("remember", {"text": too_long})
            assert r.is_error and r.structured_content is None
            assert _text(r) == f"INVALID_ARGUMENT: {_daemon_refusal(daemon, ns, too_long)}"
            assert len(stored(daemon, ns)) == 3  # keys[1:] and the imported one

    anyio.run(scenario)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_hosts_on_the_initialize_handshake_are_served(daemon: Daemon, transport: str) -> None:
    """Most hosts in use still open with ``initialize`` (protocol 2025-11-25 and older)."""
    ns = f"mcp/{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        async with connect(transport, daemon, "--namespace", ns, mode="legacy") as client:
            assert len((await client.list_tools()).tools) == 5
            r = await client.call_tool(
                "remember", {"text": "legacy hosts work", "importance": 0.7, "tier": "long_term"}
            )
            key = r.structured_content["key"]
            r = await client.call_tool("recall", {"keys": [key]})
            [memory] = r.structured_content["memories"]
            assert (memory["importance"], memory["tier"]) == (0.7, "long_term")
            # A context is stored apart from the text, returned apart, and searchable.
            args = {"text": "yes, the blue one", "context": "choosing the kitchen tiles"}
            key = (await client.call_tool("remember", args)).structured_content["key"]
            r = await client.call_tool("recall", {"keys": [key]})
            [memory] = r.structured_content["memories"]
            assert (memory["text"], memory["context"]) == (args["text"], args["context"])
            r = await client.call_tool("search", {"query": "tiles"})
            assert [h["key"] for h in r.structured_content["hits"]] == [key]

    anyio.run(scenario)


def test_a_tls_daemon_with_the_token_in_a_file(tmp_path: Path) -> None:
    """The shared-daemon setup: mutual TLS (the flags of memd token) and a token file."""
    d = Daemon(tmp_path / "data", tls=True, tokens={"rw": "mcp/*=read,write"})
    try:
        assert d.tls_files is not None
        tls = d.tls_files
        token_file = tmp_path / "token"
        token_file.write_text(d.tokens["rw"] + "\n")
        flags = ("--namespace", "mcp/tls", "--token-file", str(token_file))
        flags += ("--ca", str(tls.ca_cert), "--cert", str(tls.client_cert))
        flags += ("--key", str(tls.client_key))

        async def scenario() -> None:
            # No MEMD_TOKEN: without the file's token the daemon would refuse.
            async with connect("stdio", d, *flags, token="") as client:
                r = await client.call_tool("remember", {"text": "over TLS"})
                assert not r.is_error, _text(r)
                r = await client.call_tool("search", {"query": "TLS"})
                assert [h["text"] for h in r.structured_content["hits"]] == ["over TLS"]

        anyio.run(scenario)
    finally:
        d.close()


def _check_schemas(tools: list[Any]) -> None:
    """Every argument bounded and described; the namespace is not an argument."""
    by_name = {t.name: t for t in tools}
    for tool in tools:
        assert tool.output_schema and tool.output_schema["type"] == "object"
        schema = tool.input_schema
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert "namespace" not in schema["properties"]
        assert all(p.get("description") for p in schema["properties"].values()), tool.name
    remember = by_name["remember"].input_schema
    assert remember["required"] == ["text"]
    importance = remember["properties"]["importance"]
    assert (importance["type"], importance["minimum"], importance["maximum"]) == ("number", 0, 1)
    assert remember["properties"]["tier"]["enum"] == [
        "working",
        "short_term",
        "long_term",
        "archive",
    ]
    limit = by_name["search"].input_schema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 10)
    assert by_name["recall"].input_schema["properties"]["keys"]["maxItems"] == 100
    assert by_name["search"].annotations.read_only_hint is True
    assert by_name["forget"].annotations.destructive_hint is True
    assert by_name["remember"].annotations.read_only_hint is False


def _daemon_refusal(daemon: Daemon, ns: str, text: str) -> str:
    """The daemon's own message for storing ``text`` (admin token, so only the size fails)."""
    request = pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(text=text)], atomic=True)
    with pytest.raises(grpc.RpcError) as refused:
        daemon.stub.Store(request, timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return str(refused.value.details())
