"""The five memory tools: each one validated argument model in, one daemon call, one result out.

A tool function takes the link, the namespace the call acts on (the server decides
it: see ``memd.mcp.server``) and its arguments, and returns its result model; the
daemon's refusals propagate as ``DaemonError``. ``TOOLS`` describes each tool for
``tools/list``: the descriptions are written for the model that chooses the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import BaseModel

from memd._pb.v1 import memory_pb2 as mpb
from memd._pb.v1 import memory_service_pb2 as pb
from memd.mcp import render
from memd.mcp.daemon import DaemonLink
from memd.mcp.schemas import (
    ForgetArgs,
    ForgetOut,
    HitOut,
    ListRecentArgs,
    ListRecentOut,
    MemoryOut,
    RecallArgs,
    RecallOut,
    RememberArgs,
    RememberOut,
    SearchArgs,
    SearchOut,
    TierName,
)


def remember(link: DaemonLink, namespace: str, args: RememberArgs) -> RememberOut:
    """Store one memory under a server-made, time-ordered key (what list_recent relies on)."""
    memory = mpb.NewMemory(
        text=args.text,
        tags=args.tags,
        metadata=args.metadata,
        tier=_tier(args.tier),
        context=args.context,
    )
    if args.importance is not None:
        memory.importance = args.importance
    if args.ttl_seconds is not None:
        memory.ttl_ms = args.ttl_seconds * 1000
    # atomic: a bad item fails the call with the daemon's INVALID_ARGUMENT message
    # instead of coming back as a per-item error beside an empty key.
    reply = link.store(pb.StoreRequest(namespace=namespace, memories=[memory], atomic=True))
    return RememberOut(
        namespace=namespace,
        key=reply.keys[0],
        tier=_tier_name(reply.tiers[0]),
        version=reply.versions[0],
        merged=bool(reply.merged_into and reply.merged_into[0]),
    )


def recall(link: DaemonLink, namespace: str, args: RecallArgs) -> RecallOut:
    """Read memories by key; each read counts as a use."""
    reply = link.retrieve(pb.RetrieveRequest(namespace=namespace, keys=args.keys))
    return RecallOut(
        namespace=namespace,
        memories=[_memory(r.memory) for r in reply.results if r.found],
        missing=[r.key for r in reply.results if not r.found],
    )


def search(link: DaemonLink, namespace: str, args: SearchArgs) -> SearchOut:
    """Keyword search with the daemon's scoring and filters."""
    request = pb.SearchRequest(
        namespace=namespace,
        query=args.query,
        limit=args.limit,
        tags_all=args.tags_all,
        tags_any=args.tags_any,
        metadata=args.metadata,
        tiers=[_tier(t) for t in args.tiers],
    )
    if args.min_importance is not None:
        request.min_importance = args.min_importance
    hits = link.search(request)
    return SearchOut(
        namespace=namespace,
        hits=[HitOut(**_memory(h.memory).model_dump(), score=h.score) for h in hits],
    )


def list_recent(link: DaemonLink, namespace: str, args: ListRecentArgs) -> ListRecentOut:
    """The conversation window: the latest memories by key, which is storage time order.

    List pages in key order, and ``remember`` stores under server-made keys, which
    sort by time; so the newest page of a descending List is the latest memories.
    """
    request = pb.ListRequest(
        namespace=namespace,
        tier=_tier(args.tier),
        page_size=args.limit,
        page_token=args.before_cursor or "",
        reverse=True,
    )
    if args.within_minutes is not None:
        request.created_after_ms = time.time_ns() // 1_000_000 - args.within_minutes * 60_000
    reply = link.list(request)
    return ListRecentOut(
        namespace=namespace,
        memories=[_memory(m) for m in reversed(reply.memories)],
        older_cursor=reply.next_page_token,
    )


def forget(link: DaemonLink, namespace: str, args: ForgetArgs) -> ForgetOut:
    """Delete memories by key."""
    reply = link.delete(pb.DeleteRequest(namespace=namespace, keys=args.keys))
    pairs = list(zip(args.keys, reply.deleted, strict=True))
    return ForgetOut(
        namespace=namespace,
        deleted=[key for key, gone in pairs if gone],
        not_found=[key for key, gone in pairs if not gone],
    )


@dataclass(frozen=True)
class ToolSpec:
    """One tool: how it is described, validated, run and rendered.

    Attributes:
        name: The tool name.
        title: A short human-readable title.
        description: What it does and when to use it, for the model.
        args: Its argument model (the input schema).
        out: Its result model (the output schema and structured content).
        run: The call: ``run(link, namespace, args) -> out``.
        render: The compact text of a result: ``render(args, out) -> str``.
        read_only: Whether it leaves memories as they were (reads count as uses).
        destructive: Whether it removes memories.
    """

    name: str
    title: str
    description: str
    args: type[BaseModel]
    out: type[BaseModel]
    run: Callable[[DaemonLink, str, Any], BaseModel]
    render: Callable[[Any, Any], str]
    read_only: bool = False
    destructive: bool = False


TOOLS = (
    ToolSpec(
        "remember",
        "Remember",
        "Store a memory that lasts beyond this conversation: a fact, a preference, a "
        "decision, or a conversation turn worth keeping. Write the text so it stands on "
        "its own. Returns the memory's key. If the same text is already stored, the "
        "daemon may update that memory instead (merged: true).",
        RememberArgs,
        RememberOut,
        remember,
        render.remembered,
    ),
    ToolSpec(
        "recall",
        "Recall by key",
        "Read memories by key (keys come from remember, search and list_recent): full "
        "text, tags, metadata, tier and time. Unknown keys are listed as missing.",
        RecallArgs,
        RecallOut,
        recall,
        render.recalled,
        read_only=True,
    ),
    ToolSpec(
        "search",
        "Search memories",
        "Find memories by keywords, best first: relevance to the query combined with "
        "recency, how often a memory was used and its importance. Narrow with tags, "
        "metadata, tiers or a minimum importance. Use it to check what is known about a "
        "topic before answering.",
        SearchArgs,
        SearchOut,
        search,
        render.searched,
        read_only=True,
    ),
    ToolSpec(
        "list_recent",
        "Recent memories",
        "The conversation window: the latest memories in the order they were stored "
        "(oldest first in the result), e.g. to pick up where a conversation left off. "
        "Page further back with before_cursor.",
        ListRecentArgs,
        ListRecentOut,
        list_recent,
        render.listed,
        read_only=True,
    ),
    ToolSpec(
        "forget",
        "Forget",
        "Delete memories for good, by key. Use it when asked to forget something or when "
        "a memory is wrong (then remember the correction).",
        ForgetArgs,
        ForgetOut,
        forget,
        render.forgotten,
        destructive=True,
    ),
)
"""Every tool, in the order ``tools/list`` shows them."""


def _memory(m: mpb.Memory) -> MemoryOut:
    return MemoryOut(
        key=m.key,
        text=m.text,
        context=m.context,
        tags=list(m.tags),
        metadata=dict(m.metadata),
        # Importance is stored as float32: 0.9 reads back as 0.8999999761581421.
        importance=round(m.importance, 4),
        tier=_tier_name(m.tier),
        created_at=_iso(m.created_ms),
    )


def _tier(name: TierName | None) -> str:
    return f"TIER_{(name or 'unspecified').upper()}"


def _tier_name(number: int) -> TierName:
    return cast(TierName, mpb.Tier.Name(number).removeprefix("TIER_").lower())


def _iso(ms: int) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")
