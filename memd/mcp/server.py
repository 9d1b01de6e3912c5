"""The MCP server of ``memd mcp``: the memory tools over stdio or Streamable HTTP.

Built on the official SDK's low-level ``Server``, because the tool schemas depend on
the configuration: the namespace is an argument only when the operator allows it
(optionally confined to a prefix); otherwise it is fixed and a call naming one is
refused, so a model cannot reach another tenant's memories whatever it is told.

A call's arguments are validated against the same pydantic model that produced its
input schema; the daemon call runs in a worker thread (the gRPC stub blocks). Errors
are tool errors (``isError``), never protocol errors, so the model reads them:
``<STATUS>: <message>`` with the daemon's own status and message.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import mcp_types as types
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, Field, ValidationError, create_model

from memd.mcp.daemon import DaemonError, DaemonLink
from memd.mcp.schemas import json_schema
from memd.mcp.tools import TOOLS, ToolSpec
from memd.version import memd_version

_ECMA_SPECIAL = set("\\^$.*+?()[]{}|")
"""Characters that need a backslash in a JSON Schema (ECMA-262) pattern."""


@dataclass(frozen=True)
class NamespacePolicy:
    """Which namespace a call acts on.

    Attributes:
        default: The configured namespace; with ``allow_argument`` False, the only one.
            Empty only when ``allow_argument`` is set (the argument is then required).
        allow_argument: Whether the tools take a ``namespace`` argument.
        prefix: With ``allow_argument``, a prefix every namespace argument must have.
    """

    default: str
    allow_argument: bool = False
    prefix: str = ""


def build_server(link: DaemonLink, policy: NamespacePolicy) -> Server[Any]:
    """The MCP server answering ``tools/list`` and ``tools/call`` through ``link``."""
    specs = {spec.name: (spec, _arguments_model(spec, policy)) for spec in TOOLS}
    listed = types.ListToolsResult(tools=[_describe(spec, args) for spec, args in specs.values()])

    async def list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listed

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name not in specs:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        spec, model = specs[params.name]
        try:
            args = model.model_validate(params.arguments or {})
        except ValidationError as exc:
            return _error("INVALID_ARGUMENT", _explain(spec.name, exc))
        namespace = getattr(args, "namespace", None) or policy.default
        try:
            out = await anyio.to_thread.run_sync(spec.run, link, namespace, args)
        except DaemonError as exc:
            return _error(exc.code, exc.message)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=spec.render(args, out))],
            structured_content=out.model_dump(mode="json"),
        )

    return Server(
        "memd",
        version=memd_version(),
        title="memd memory",
        instructions=_instructions(policy),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one host over this process's stdin and stdout until stdin closes."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def serve_http(
    server: Server[Any], host: str, port: int, announce: Callable[[str], None]
) -> None:
    """Serve Streamable HTTP at ``http://host:port/mcp`` until SIGINT or SIGTERM.

    The socket is bound and listening before ``announce(url)`` is called with the
    bound port (``port`` 0 picks a free one), so a host may connect at once.
    """
    app = server.streamable_http_app(host=host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound = sock.getsockname()[1]
    announce(f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{bound}/mcp")
    # A host's open event stream would otherwise hold a graceful shutdown forever.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    await uvicorn.Server(config).serve(sockets=[sock])


def _arguments_model(spec: ToolSpec, policy: NamespacePolicy) -> type[BaseModel]:
    if not policy.allow_argument:
        return spec.args
    about = "The memd namespace to act on"
    if policy.prefix:
        about += f"; it must start with {policy.prefix!r}"
    about += f" (default {policy.default!r})." if policy.default else "."
    pattern = "^" + "".join("\\" + c if c in _ECMA_SPECIAL else c for c in policy.prefix)
    field: Any = Field(
        default=policy.default or ...,
        min_length=1,
        max_length=128,
        pattern=pattern if policy.prefix else None,
        description=about,
    )
    model: type[BaseModel] = create_model(
        f"{spec.args.__name__}InNamespace", __base__=spec.args, namespace=(str, field)
    )
    return model


def _describe(spec: ToolSpec, args: type[BaseModel]) -> types.Tool:
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=json_schema(args, "validation"),
        output_schema=json_schema(spec.out, "serialization"),
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=spec.read_only,
            destructive_hint=spec.destructive,
            idempotent_hint=spec.read_only or spec.destructive,
            open_world_hint=False,
        ),
    )


def _explain(tool: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "arguments"
        if err["type"] == "extra_forbidden":
            problems.append(f"{where}: not an argument of {tool}")
        else:
            problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)


def _error(code: str, message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f"{code}: {message}")], is_error=True
    )


def _instructions(policy: NamespacePolicy) -> str:
    where = (
        f"namespace {policy.default!r}"
        if not policy.allow_argument
        else "the namespace you name"
        + (f" (under {policy.prefix!r})" if policy.prefix else "")
        + (f", {policy.default!r} by default" if policy.default else "")
    )
    return (
        f"Long-term memory (memd), in {where}. Use search before answering to find what "
        "is known, remember to keep new facts, preferences and decisions, list_recent to "
        "see the latest memories (the conversation so far), recall to read memories by "
        "key, and forget to delete wrong or unwanted ones."
    )
