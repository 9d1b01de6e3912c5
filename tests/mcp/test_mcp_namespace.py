"""Which namespace a model can reach through ``memd mcp``: the configured one, or, when the
operator allows a namespace argument, only those under the configured prefix.

The token used here may write anywhere under ``mcp/``, so every refusal below comes from
``memd mcp`` itself, not from the daemon's access control.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
from daemon_launcher import Daemon
from mcp_host import connect, stored

VALID_ARGS: dict[str, dict[str, Any]] = {
    "remember": {"text": "planted elsewhere"},
    "recall": {"keys": ["k"]},
    "search": {"query": "planted"},
    "list_recent": {},
    "forget": {"keys": ["k"]},
}
"""A valid call of each tool, to which the tests add a namespace."""


def _text(result: Any) -> str:
    [block] = result.content
    return str(block.text)


def test_a_pinned_namespace_cannot_be_changed_by_the_model(daemon: Daemon) -> None:
    pinned, other = (f"mcp/{uuid.uuid4().hex[:10]}" for _ in range(2))

    async def scenario() -> None:
        async with connect("stdio", daemon, "--namespace", pinned) as client:
            for tool, args in VALID_ARGS.items():
                r = await client.call_tool(tool, {**args, "namespace": other})
                assert r.is_error, tool
                assert _text(r) == f"INVALID_ARGUMENT: namespace: not an argument of {tool}"
            r = await client.call_tool("remember", VALID_ARGS["remember"])
            assert r.structured_content["namespace"] == pinned

    anyio.run(scenario)
    assert stored(daemon, other) == []
    assert [m.text for m in stored(daemon, pinned)] == ["planted elsewhere"]


def test_an_allowed_namespace_argument_stays_under_its_prefix(daemon: Daemon) -> None:
    team = f"mcp/{uuid.uuid4().hex[:8]}.a/"  # the dot must match only a dot
    default, chosen = f"{team}default", f"{team}notes"
    lookalike = team.replace(".", "x") + "notes"
    flags = ("--allow-namespace-arg", "--namespace-prefix", team, "--namespace", default)

    async def scenario() -> None:
        async with connect("http", daemon, *flags) as client:
            tools = (await client.list_tools()).tools
            for tool in tools:
                prop = tool.input_schema["properties"]["namespace"]
                assert prop["default"] == default and "namespace" not in tool.input_schema.get(
                    "required", []
                )
                assert prop["pattern"] == "^" + team.replace(".", "\\.")
            for outside in (lookalike, "mcp/other", team.rstrip("/")):
                r = await client.call_tool("remember", {"text": "no", "namespace": outside})
                assert r.is_error
                assert _text(r).startswith("INVALID_ARGUMENT: namespace: String should match")
            r = await client.call_tool("remember", {"text": "chosen", "namespace": chosen})
            assert r.structured_content["namespace"] == chosen
            r = await client.call_tool("remember", {"text": "by default"})
            assert r.structured_content["namespace"] == default
            r = await client.call_tool("list_recent", {"namespace": chosen})
            assert [m["text"] for m in r.structured_content["memories"]] == ["chosen"]

    anyio.run(scenario)
    assert [m.text for m in stored(daemon, chosen)] == ["chosen"]
    assert [m.text for m in stored(daemon, default)] == ["by default"]
    assert stored(daemon, lookalike) == []


def test_without_a_default_the_namespace_argument_is_required(daemon: Daemon) -> None:
    ns = f"mcp/{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        # Configured through the environment, as a host's config file usually does.
        async with connect("stdio", daemon, env={"MEMD_MCP_ALLOW_NAMESPACE_ARG": "true"}) as c:
            [remember] = [t for t in (await c.list_tools()).tools if t.name == "remember"]
            assert remember.input_schema["required"] == ["text", "namespace"]
            r = await c.call_tool("remember", {"text": "t"})
            assert _text(r) == "INVALID_ARGUMENT: namespace: Field required"
            r = await c.call_tool("remember", {"text": "t", "namespace": ns})
            assert not r.is_error

    anyio.run(scenario)
    assert [m.text for m in stored(daemon, ns)] == ["t"]
