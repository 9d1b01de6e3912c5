"""The topics daemon options are grouped by, in ``memd serve --help`` and the example file.

Each option in ``memd.config_options`` names its group; this module says what a group
is about, so the help and ``docs/examples/memd.toml`` introduce each topic the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Group:
    """One topic of options.

    Attributes:
        title: Heading in ``--help`` and the example file.
        description: One line on what the options in it decide.
    """

    title: str
    description: str


GROUPS: dict[str, Group] = {
    "server": Group(
        "server",
        "addresses, the data directory, logging, worker threads, shutdown, the TTL sweep",
    ),
    "limits": Group("request limits", "the largest request the daemon accepts"),
    "engine": Group(
        "storage engine", "LMDB size, durability, promotion on read, the largest memory"
    ),
    "tiers": Group("tiers", "capacity and default TTL of each tier, per namespace"),
    "lifecycle": Group(
        "lifecycle", "scheduled passes: retention policies, then consolidation to LONG_TERM"
    ),
    "dedup": Group("deduplication", "what happens when a stored text or embedding repeats"),
    "compression": Group("compression", "lz4 compression of values in the colder tiers"),
    "security": Group(
        "security", "tokens, TLS for gRPC and metrics, the backup directory (docs/daemon.md)"
    ),
    "tracing": Group(
        "tracing", "OpenTelemetry spans of the RPCs and where they are sent (docs/tracing.md)"
    ),
    "archive": Group(
        "archive",
        "the ARCHIVE tier's values in encrypted objects on S3-compatible storage (docs/archive.md)",
    ),
    "embed": Group(
        "embeddings",
        "server-side embedders of texts stored or searched without a vector (docs/embeddings.md)",
    ),
    "cluster": Group(
        "cluster", "run as one node of a memd cluster replicated through NATS (docs/cluster.md)"
    ),
}
"""Group key (``Option.group``) -> its heading and description, in no particular order."""
