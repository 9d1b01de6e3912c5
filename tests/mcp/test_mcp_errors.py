"""``memd mcp`` failures: the daemon's refusals as tool errors, bad arguments, usage errors."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
from daemon_launcher import REPO, Daemon, clean_env
from mcp import MCPError
from mcp_host import connect, stored

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd._pb.v1 import memory_service_pb2_grpc as pb_grpc


def _text(result: Any) -> str:
    [block] = result.content
    return str(block.text)


def _refusal(daemon: Daemon, token: str, request: pb.StoreRequest) -> tuple[str, str]:
    """The daemon's own status and message for ``request`` sent with ``token`` directly."""
    with daemon.connect(token or None) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            pb_grpc.MemoryServiceStub(channel).Store(request, timeout=30)
    return refused.value.code().name, str(refused.value.details())


def _namespace() -> str:
    return f"mcp/{uuid.uuid4().hex[:10]}"


def test_a_read_only_token_searches_but_cannot_remember_or_forget(daemon: Daemon) -> None:
    ns = _namespace()
    [key] = daemon.stub.Store(
        pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(text="kept as it is")]), timeout=30
    ).keys
    write = pb.StoreRequest(namespace=ns, memories=[mpb.NewMemory(text="must not be stored")])
    code, message = _refusal(daemon, daemon.tokens["ro"], write)
    assert code == "PERMISSION_DENIED"

    async def scenario() -> None:
        async with connect("stdio", daemon, "--namespace", ns, token="ro") as client:
            r = await client.call_tool("search", {"query": "kept"})
            assert not r.is_error and [h["key"] for h in r.structured_content["hits"]] == [key]
            r = await client.call_tool("remember", {"text": "must not be stored"})
            assert r.is_error and _text(r) == f"PERMISSION_DENIED: {message}"
            r = await client.call_tool("forget", {"keys": [key]})
            assert r.is_error and _text(r).startswith("PERMISSION_DENIED: ")

    anyio.run(scenario)
    assert [m.text for m in stored(daemon, ns)] == ["kept as it is"]


def test_without_a_token_the_daemon_says_unauthenticated(daemon: Daemon) -> None:
    ns = _namespace()
    code, message = _refusal(daemon, "", pb.StoreRequest(namespace=ns))
    assert code == "UNAUTHENTICATED"

    async def scenario() -> None:
        async with connect("http", daemon, "--namespace", ns, token="") as client:
            r = await client.call_tool("list_recent", {})
            assert r.is_error and _text(r) == f"UNAUTHENTICATED: {message}"

    anyio.run(scenario)


def test_arguments_outside_the_schema_are_refused_before_the_daemon(daemon: Daemon) -> None:
    ns = _namespace()
    refused = {
        "search": ({"query": "x", "limit": 0}, "limit: Input should be greater than or equal to 1"),
        "recall": ({"keys": []}, "keys: List should have at least 1 item after validation"),
        "remember": ({"tags": ["a"]}, "text: Field required"),
        "list_recent": ({"tier": "hot"}, "tier: Input should be 'working', 'short_term'"),
        "forget": ({"keys": ["k"] * 101}, "keys: List should have at most 100 items"),
    }

    async def scenario() -> None:
        async with connect("stdio", daemon, "--namespace", ns) as client:
            for tool, (args, problem) in refused.items():
                r = await client.call_tool(tool, args)
                assert r.is_error and _text(r).startswith(f"INVALID_ARGUMENT: {problem}"), tool
            r = await client.call_tool(
                "remember", {"text": "t", "importance": 1.5, "colour": "red"}
            )
            assert _text(r) == (
                "INVALID_ARGUMENT: importance: Input should be less than or equal to 1; "
                "colour: not an argument of remember"
            )
            with pytest.raises(MCPError, match="Unknown tool: remember_everything"):
                await client.call_tool("remember_everything", {"text": "t"})

    anyio.run(scenario)
    assert stored(daemon, ns) == []


def test_an_unreachable_daemon_is_a_tool_error_not_a_crash(daemon: Daemon) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed

    async def scenario() -> None:
        flags = ("--namespace", "mcp/x", "--target", dead, "--timeout", "5")
        async with connect("stdio", daemon, *flags) as client:
            r = await client.call_tool("search", {"query": "anything"})
            assert r.is_error and _text(r).startswith("UNAVAILABLE: ")
            assert "\n" not in _text(r)
            # The server is still there for the next call.
            assert len((await client.list_tools()).tools) == 5

    anyio.run(scenario)


def _mcp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memd", "mcp", *args],
        cwd=REPO,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "error"),
    [
        ((), {}, "--namespace (or MEMD_MCP_NAMESPACE) is required"),
        (
            ("--namespace", "a", "--namespace-prefix", "a"),
            {},
            "--namespace-prefix applies only with --allow-namespace-arg",
        ),
        (
            ("--allow-namespace-arg", "--namespace", "b/x", "--namespace-prefix", "a/"),
            {},
            "--namespace 'b/x' does not start with --namespace-prefix 'a/'",
        ),
        (
            ("--namespace", "a", "--transport", "http", "--host", "0.0.0.0"),
            {},
            "--host '0.0.0.0' is not a loopback address",
        ),
        (("--namespace", "a", "--token-file", "/no/such/token"), {}, "No such file"),
        (
            (),
            {"MEMD_MCP_NAMESPACE": "a", "MEMD_MCP_ALLOW_NAMESPACE_ARG": "maybe"},
            "MEMD_MCP_ALLOW_NAMESPACE_ARG: expected true or false, got 'maybe'",
        ),
        (("--namespace", "a", "--transport", "sse"), {}, "expected one of stdio, http"),
    ],
)
def test_usage_errors_exit_2_with_a_reason(
    args: tuple[str, ...], env: dict[str, str], error: str
) -> None:
    done = _mcp(*args, env=env)
    assert done.returncode == 2, done
    assert error.lower() in done.stderr.lower()
    assert done.stdout == ""


def test_without_the_mcp_extra_it_says_what_to_install(tmp_path: Path) -> None:
    # None in sys.modules makes `import mcp` fail as if the package were not installed.
    code = (
        "import sys; sys.modules['mcp'] = None; from memd.cli import main; "
        "sys.exit(main(['mcp', '--namespace', 'a']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "pip install 'memd-daemon[mcp]'" in done.stderr
