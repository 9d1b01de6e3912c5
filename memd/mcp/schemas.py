"""The MCP tools' argument and result models: their JSON schemas are what a model reads.

Every bound, default and description here is published in ``tools/list``, so a model
can build a valid call from the schema alone. Limits that the daemon owns and an
operator can change (the text size) are described, not enforced here: the daemon's
own error is the authority. Fixed limits of the API (64 tags, 64 metadata entries)
and this server's page sizes are enforced by the schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

TierName = Literal["working", "short_term", "long_term", "archive"]
"""A tier as the tools name it (memd.config_parse.TIER_NAMES)."""

MAX_KEYS = 100
"""Most keys per recall or forget call."""
MAX_RESULTS = 100
"""Most memories per search or list_recent call."""
MAX_TTL_SECONDS = (2**63 - 1) // 1000
"""The daemon's TTL bound (2^63 - 1 ms), in seconds."""
_TIER_HELP = (
    "working (the current task's context, smallest), short_term (recent), long_term "
    "(consolidated knowledge) or archive (cold)"
)

Keys = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=256)]],
    Field(min_length=1, max_length=MAX_KEYS),
]
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=1024)]],
    Field(max_length=64),
]
Metadata = Annotated[
    dict[str, Annotated[str, Field(max_length=1024)]],
    Field(max_length=64),
]


class _Args(BaseModel):
    """Arguments of one tool: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class RememberArgs(_Args):
    """Arguments of ``remember``."""

    text: str = Field(
        min_length=1,
        description="What to remember, as a self-contained statement (it is what search "
        "matches and what recall returns). At most 262 144 bytes of UTF-8 unless the "
        "daemon is configured otherwise.",
    )
    tags: Tags = Field(
        default_factory=list,
        description="Labels to filter on later (search tags_all/tags_any), e.g. "
        '["preference", "project:apollo"]. At most 64.',
    )
    metadata: Metadata = Field(
        default_factory=dict,
        description="String key/value pairs to filter on later (search metadata). "
        "Conventional keys: type, category, role (user/assistant), conversation. At most 64.",
    )
    importance: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="How much this matters, 0 to 1 (default 0.5). Important memories rank "
        "higher in search and are kept longer.",
    )
    tier: TierName | None = Field(
        default=None,
        description=f"Where to store it: {_TIER_HELP}. Default: the daemon's default "
        "(short_term unless configured).",
    )
    ttl_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TTL_SECONDS,
        description="Forget it automatically after this many seconds; 0 never expires. "
        "Default: the tier's default (never unless configured).",
    )
    context: str = Field(
        default="",
        description="Optional text that situates it, e.g. the previous turn or the "
        "conversation's title: search matches it too (and the daemon's embedder reads "
        "it with the text), but it is returned apart, never as the text.",
    )


class RecallArgs(_Args):
    """Arguments of ``recall``."""

    keys: Keys = Field(
        description="Keys of the memories to read, as returned by remember, search or "
        "list_recent. Reading a memory counts as a use (often-used memories move to "
        "hotter tiers).",
    )


class SearchArgs(_Args):
    """Arguments of ``search``."""

    query: str = Field(
        min_length=1,
        description="Keywords to look for (ranked with BM25 over the memories' text, "
        "combined with recency, use and importance).",
    )
    limit: int = Field(default=10, ge=1, le=MAX_RESULTS, description="Most hits to return.")
    tags_all: Tags = Field(
        default_factory=list, description="Only memories that have every one of these tags."
    )
    tags_any: Tags = Field(
        default_factory=list,
        description="Only memories that have at least one of these tags (empty: any).",
    )
    metadata: Metadata = Field(
        default_factory=dict,
        description="Only memories whose metadata has each of these key/value pairs.",
    )
    tiers: list[TierName] = Field(
        default_factory=list,
        max_length=4,
        description=f"Only these tiers (empty: all): {_TIER_HELP}.",
    )
    min_importance: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Only memories at least this important."
    )


class ListRecentArgs(_Args):
    """Arguments of ``list_recent``."""

    limit: int = Field(
        default=20, ge=1, le=MAX_RESULTS, description="How many of the latest memories to return."
    )
    tier: TierName | None = Field(
        default=None, description=f"Only this tier (default: all): {_TIER_HELP}."
    )
    within_minutes: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Only memories stored in the last this many minutes.",
    )
    before_cursor: str | None = Field(
        default=None,
        min_length=1,
        description="The older_cursor of a previous list_recent result, to page further "
        "back in time (keep the other arguments the same).",
    )


class ForgetArgs(_Args):
    """Arguments of ``forget``."""

    keys: Keys = Field(
        description="Keys of the memories to delete for good. Unknown keys are reported, "
        "not an error.",
    )


class MemoryOut(BaseModel):
    """One memory as the tools return it (its value bytes and embedding are left out)."""

    key: str = Field(description="Its key: pass it to recall or forget.")
    text: str
    context: str = Field(default="", description="The context it was stored with, if any.")
    tags: list[str]
    metadata: dict[str, str]
    importance: float = Field(description="0 to 1.")
    tier: TierName
    created_at: str = Field(description="When it was first stored, ISO 8601 UTC.")


class HitOut(MemoryOut):
    """A search hit: a memory and its score."""

    score: float = Field(description="Relevance, recency, use and importance combined.")


class RememberOut(BaseModel):
    """Result of ``remember``."""

    namespace: str
    key: str = Field(description="The stored memory's key.")
    tier: TierName
    version: int = Field(description="1 for a new memory, more when an existing one was updated.")
    merged: bool = Field(
        description="True when an identical memory existed and was updated instead "
        "(key is its key)."
    )


class RecallOut(BaseModel):
    """Result of ``recall``."""

    namespace: str
    memories: list[MemoryOut] = Field(description="The memories found, in the order asked.")
    missing: list[str] = Field(description="Keys that do not exist (or expired).")


class SearchOut(BaseModel):
    """Result of ``search``."""

    namespace: str
    hits: list[HitOut] = Field(description="Best first.")


class ListRecentOut(BaseModel):
    """Result of ``list_recent``."""

    namespace: str
    memories: list[MemoryOut] = Field(description="Oldest first, so they read as a transcript.")
    older_cursor: str = Field(
        description="Pass as before_cursor for the memories before these; empty when none."
    )


class ForgetOut(BaseModel):
    """Result of ``forget``."""

    namespace: str
    deleted: list[str]
    not_found: list[str]


class ErrorOut(BaseModel):
    """The structured content of a failed call."""

    code: str = Field(description="A gRPC status name, e.g. INVALID_ARGUMENT, PERMISSION_DENIED.")
    message: str


class _ToolSchema(GenerateJsonSchema):
    """JSON schemas as a model reads them best: no titles, no ``null`` alternatives.

    An optional argument is one the model may leave out; advertising ``null`` too
    (pydantic's default for ``X | None``) only adds a second way to say the same thing.
    """

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def json_schema(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> Any:
    """``model``'s JSON schema for ``tools/list``: arguments (validation) or results."""
    schema = model.model_json_schema(schema_generator=_ToolSchema, mode=mode)
    # The tool's own description says what the call does; the class docstring would
    # only repeat it.
    schema.pop("title", None)
    schema.pop("description", None)
    return schema
