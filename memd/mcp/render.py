"""The compact text of each tool's result: what a model reads when it ignores structure.

One header line per memory (key, tier, time, importance, tags, metadata) and its text
indented below it, so a model can quote a key back without parsing JSON. The
structured content carries the same facts field by field.
"""

from __future__ import annotations

from textwrap import indent

from memd.mcp.schemas import (
    ForgetOut,
    ListRecentOut,
    MemoryOut,
    RecallArgs,
    RecallOut,
    RememberArgs,
    RememberOut,
    SearchArgs,
    SearchOut,
)


def remembered(args: RememberArgs, out: RememberOut) -> str:
    """``remember``: the key, and whether an existing memory was updated."""
    if out.merged:
        return f"Already remembered: updated memory {out.key} ({out.tier}, version {out.version})."
    return f"Remembered as {out.key} ({out.tier})."


def recalled(args: RecallArgs, out: RecallOut) -> str:
    """``recall``: each memory found, then the keys that were not."""
    parts = [memory(m) for m in out.memories]
    if out.missing:
        parts.append("Not found: " + ", ".join(out.missing))
    return "\n".join(parts)


def searched(args: SearchArgs, out: SearchOut) -> str:
    """``search``: the hits, best first, numbered, with their scores."""
    if not out.hits:
        return f"No memory matches {args.query!r}."
    n = len(out.hits)
    lines = [f"{_count(n)} {'matches' if n == 1 else 'match'} {args.query!r}, best first:"]
    lines += [memory(h, f"{i}. score {h.score:.3f} · ") for i, h in enumerate(out.hits, 1)]
    return "\n".join(lines)


def listed(args: object, out: ListRecentOut) -> str:
    """``list_recent``: the window, oldest first, and how to page back."""
    if not out.memories:
        return "No memories."
    lines = [f"Latest {_count(len(out.memories))}, oldest first:"]
    lines += [memory(m) for m in out.memories]
    if out.older_cursor:
        lines.append(f"Older memories exist: pass before_cursor={out.older_cursor!r}.")
    return "\n".join(lines)


def forgotten(args: object, out: ForgetOut) -> str:
    """``forget``: what was deleted and what was not there."""
    parts = []
    if out.deleted:
        parts.append(f"Forgot {len(out.deleted)}: " + ", ".join(out.deleted) + ".")
    if out.not_found:
        parts.append("Not found: " + ", ".join(out.not_found) + ".")
    return " ".join(parts)


def memory(m: MemoryOut, prefix: str = "") -> str:
    """One memory: a header line, then its text indented by two spaces."""
    head = [f"{prefix}{m.key}", m.tier, m.created_at, f"importance {m.importance:g}"]
    if m.tags:
        head.append("tags: " + ", ".join(m.tags))
    if m.metadata:
        head.append(", ".join(f"{k}={v}" for k, v in sorted(m.metadata.items())))
    return " · ".join(head) + "\n" + indent(m.text, "  ", lambda _line: True)


def _count(n: int) -> str:
    return f"{n} {'memory' if n == 1 else 'memories'}"
