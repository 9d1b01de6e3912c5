"""The table of daemon options: key, parser, default and help of each.

``memd.config`` merges the layers; this module only says what an option is and how a
string (flag, environment) or a TOML value becomes its value. Defaults come from
``Config`` and ``EngineOptions`` so they are written down once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memd.archive import options as _archive
from memd.cluster.options import ClusterOptions, advertise_address, nats_urls, node_id
from memd.config_parse import (
    TIER_NAMES,
    ConfigError,
    boolean,
    choice,
    float_in,
    format_size,
    grpc_address,
    http_address,
    int_in,
    size,
    tier_number,
)
from memd.embed.options import BACKENDS, LOCAL_MODELS, EmbedOptions, openai_url
from memd.telemetry.options import (
    EXPORTERS,
    PROTOCOLS,
    TracingOptions,
    otlp_endpoint,
    service_name,
)
from memd.types import SEARCH_LANGUAGES, EngineOptions, LifecycleOptions, Tier

_ENGINE = EngineOptions()
_LIFECYCLE = LifecycleOptions()
_TRACING = TracingOptions()
_EMBED = EmbedOptions()
_CLUSTER = ClusterOptions()


@dataclass(frozen=True, slots=True)
class Option:
    """One configuration option.

    Attributes:
        key: Dotted TOML key; the flag and env var names derive from it.
        group: ``--help`` section.
        help: One-line description (units included).
        default: Built-in default (already parsed).
        parse: Turns a string into the value; raises ConfigError.
        repeatable: A list: the flag may repeat, the env var is comma-separated.
        show: Renders the default for ``--help``.
        aliases: More flags for it (``--cluster`` for ``--cluster-url``).
    """

    key: str
    group: str
    help: str
    default: Any
    parse: Callable[[str], Any]
    repeatable: bool = False
    show: Callable[[Any], str] = str
    aliases: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--engine-durability``."""
        return "--" + self.key.replace(".", "-").replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable, e.g. ``MEMD_ENGINE_DURABILITY``."""
        return "MEMD_" + self.key.replace(".", "_").upper()

    @property
    def dest(self) -> str:
        """The argparse attribute name."""
        return self.key.replace(".", "__")

    @property
    def metavar(self) -> str:
        """Placeholder shown in ``--help``."""
        return self.key.rsplit(".", 1)[-1].upper()

    @property
    def default_text(self) -> str:
        """The default as shown in ``--help`` and the docs."""
        if self.repeatable:
            return ",".join(self.default)
        if self.default == "" and self.show is str:
            return '"" (off)'
        return self.show(self.default)

    def parse_env(self, raw: str) -> Any:
        """Parse an environment variable's value."""
        try:
            if self.repeatable:
                return [self.parse(part.strip()) for part in raw.split(",") if part.strip()]
            return self.parse(raw)
        except ConfigError as exc:
            raise ConfigError(f"{self.env}: {exc}") from None

    def check_toml(self, value: Any, path: str) -> Any:
        """Validate and convert a value read from the TOML file."""
        try:
            if self.repeatable:
                items = [value] if isinstance(value, str) else value
                if not isinstance(items, list):
                    raise ConfigError("expected a list of strings")
                return [self.parse(item) for item in items]
            if isinstance(value, bool) and self.parse is boolean:
                return value
            if isinstance(value, (dict, list, bool)):
                raise ConfigError(f"expected a scalar, got {type(value).__name__}")
            return self.parse(str(value))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {self.key}: {exc}") from None


def _tier_options() -> list[Option]:
    out = []
    for index, name in enumerate(TIER_NAMES):
        tier = _ENGINE.tiers[index]
        out += [
            Option(
                f"tiers.{name}.capacity",
                "tiers",
                f"Most memories per namespace in {name.upper()}; 0 is unbounded",
                tier.capacity,
                int_in(),
            ),
            Option(
                f"tiers.{name}.default_ttl_ms",
                "tiers",
                f"TTL in ms for {name.upper()} memories stored without one; 0 never expires",
                tier.default_ttl_ms,
                int_in(),
            ),
        ]
    return out


def _tier_name(value: int) -> str:
    return Tier(value).name.lower()


def _lifecycle_options() -> list[Option]:
    lc, dd, cp = "lifecycle", "dedup", "compression"
    return [
        Option(
            "lifecycle.interval_s",
            lc,
            "Seconds between full lifecycle passes (policies, then consolidation) over "
            "every namespace; 0 disables them",
            600.0,
            float_in(),
        ),
        Option(
            "lifecycle.max_actions",
            lc,
            "Most actions one scheduled pass takes; a pass that hits it continues shortly after",
            10_000,
            int_in(1, 100_000),
        ),
        Option(
            "lifecycle.capacity_check_s",
            lc,
            "Seconds between checks of SHORT_TERM fill per namespace (see "
            "--lifecycle-consolidate-at); 0 disables them",
            5.0,
            float_in(),
        ),
        Option(
            "lifecycle.consolidate_at",
            lc,
            "SHORT_TERM fill (count / capacity) at which a namespace is consolidated",
            0.8,
            float_in(0.01, 1.0),
        ),
        Option(
            "lifecycle.consolidate_min_importance",
            lc,
            "SHORT_TERM memories at least this important move to LONG_TERM on consolidation",
            _LIFECYCLE.consolidate_min_importance,
            float_in(0.0, 1.0),
        ),
        Option(
            "lifecycle.consolidate_min_access_count",
            lc,
            "...and so do those read or written at least this many times",
            _LIFECYCLE.consolidate_min_access_count,
            int_in(1),
        ),
        Option(
            "lifecycle.consolidate_min_age_ms",
            lc,
            "Only memories created at least this long ago (ms) are consolidated",
            _LIFECYCLE.consolidate_min_age_ms,
            int_in(),
        ),
        Option(
            "dedup.exact",
            dd,
            "A stored text identical to a live memory's text in the same namespace updates "
            "that memory instead of adding one",
            True,
            boolean,
            show=lambda v: str(v).lower(),
        ),
        Option(
            "dedup.near_threshold",
            dd,
            "Cosine at or above which a memory with an embedding is a near-duplicate; 0 disables",
            _LIFECYCLE.dedup_near_threshold,
            float_in(0.0, 1.0),
        ),
        Option(
            "dedup.near_action",
            dd,
            "merge near-duplicates like identical texts, or flag them (store anyway, report "
            "the similar key)",
            _LIFECYCLE.dedup_near_action,
            choice("merge", "flag"),
        ),
        Option(
            "compression.from_tier",
            cp,
            "Values are lz4-compressed in this tier and colder ones",
            _LIFECYCLE.compress_from_tier,
            tier_number,
            show=_tier_name,
        ),
        Option(
            "compression.min_bytes",
            cp,
            "Smallest value that is compressed (when compression shrinks it)",
            _LIFECYCLE.compress_min_bytes,
            size,
            show=format_size,
        ),
    ]


_S, _E, _L = "server", "engine", "limits"


def _security_options() -> list[Option]:
    """Auth, TLS and the backup directory (docs/daemon.md, Security)."""
    sec = "security"
    pem = "(PEM file; re-read when it changes)"
    return [
        Option(
            "auth",
            sec,
            "off: no tokens (only allowed on loopback and Unix sockets, or with "
            "--insecure-no-auth); required: every call needs a bearer token",
            "off",
            choice("off", "required"),
        ),
        Option(
            "admin_token_file",
            sec,
            "File holding the bootstrap admin token (admin on every namespace); re-read "
            "when it changes",
            "",
            str,
        ),
        Option(
            "insecure_no_auth",
            sec,
            "Allow --auth off on a non-loopback address (anyone who reaches it can do anything)",
            False,
            boolean,
        ),
        Option("tls.cert", sec, f"Server certificate chain {pem}; enables TLS", "", str),
        Option("tls.key", sec, f"Server private key {pem}", "", str),
        Option(
            "tls.client_ca",
            sec,
            f"CA that client certificates must be signed by {pem}; enables mutual TLS",
            "",
            str,
        ),
        Option(
            "metrics_tls.cert", sec, "Metrics endpoint certificate (PEM); enables HTTPS", "", str
        ),
        Option("metrics_tls.key", sec, "Metrics endpoint private key (PEM)", "", str),
        Option(
            "backup_dir",
            sec,
            "Directory Backup writes under (paths are relative to it); empty: Backup is refused",
            "",
            str,
        ),
    ]


def _tracing_options() -> list[Option]:
    """OpenTelemetry traces (docs/tracing.md)."""
    tr = "tracing"
    return [
        Option(
            "tracing.enabled",
            tr,
            "Make a span per RPC, named by the GenAI memory conventions, continuing the "
            "caller's W3C trace context",
            _TRACING.enabled,
            boolean,
            show=lambda v: str(v).lower(),
        ),
        Option(
            "tracing.exporter",
            tr,
            "otlp: send spans to a collector; console: print them on stdout, one JSON "
            "object a line; none: make spans but send none (measures tracing's own cost)",
            _TRACING.exporter,
            choice(*EXPORTERS),
        ),
        Option(
            "tracing.endpoint",
            tr,
            "OTLP collector URL, http(s)://host:port (https: TLS); empty: "
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else localhost:4317 (grpc) or :4318 (http)",
            _TRACING.endpoint,
            otlp_endpoint,
            show=lambda v: v or '"" (the OTLP default)',
        ),
        Option(
            "tracing.protocol",
            tr,
            "OTLP transport: grpc, or http (protobuf; a URL without a path gets /v1/traces)",
            _TRACING.protocol,
            choice(*PROTOCOLS),
        ),
        Option(
            "tracing.service_name",
            tr,
            "service.name of the spans' resource",
            _TRACING.service_name,
            service_name,
        ),
        Option(
            "tracing.record_content",
            tr,
            "Also record memory text and search queries (gen_ai.memory.records, "
            "gen_ai.memory.query.text); they may hold personal data",
            _TRACING.record_content,
            boolean,
            show=lambda v: str(v).lower(),
        ),
    ]


def _cluster_options() -> list[Option]:
    """Cluster mode (docs/cluster.md)."""
    cl, c = "cluster", _CLUSTER
    return [
        Option(
            "cluster.url",
            cl,
            "NATS JetStream URLs (comma-separated nats://host:port); set: run as a node "
            "of a memd cluster",
            c.url,
            nats_urls,
            aliases=("--cluster",),
        ),
        Option(
            "cluster.node_id", cl, "This node's id (default: the host name)", c.node_id, node_id
        ),
        Option(
            "cluster.advertise",
            cl,
            "host:port other nodes and clients reach this node's gRPC at (default: the "
            "first --listen address)",
            c.advertise,
            advertise_address,
        ),
        Option(
            "cluster.partitions",
            cl,
            "Partitions namespaces are hashed into (the same on every node, fixed)",
            c.partitions,
            int_in(1, 4096),
        ),
        Option(
            "cluster.replicas",
            cl,
            "JetStream replicas of the log and the placement map",
            c.replicas,
            int_in(1, 5),
        ),
        Option(
            "cluster.lease_s",
            cl,
            "Seconds an owner's lease lasts; after it lapses another node takes over",
            c.lease_s,
            float_in(0.5, 600.0),
        ),
        Option(
            "cluster.log_keep_entries",
            cl,
            "Entries of each partition's log its owner keeps when it compacts the log "
            "(older ones every replica applied are purged; 0: never purge)",
            c.log_keep_entries,
            int_in(0, 1 << 40),
        ),
        Option(
            "cluster.replica_reads",
            cl,
            "Answer reads that count no access from this node's copy of the partition, "
            "once it has applied the owner's read index (as fresh as the owner's; off: "
            "forward them to the owner)",
            c.replica_reads,
            boolean,
            show=lambda v: str(v).lower(),
        ),
    ]


def _embed_options() -> list[Option]:
    """Server-side embedders (docs/embeddings.md)."""
    em, e = "embed", _EMBED
    return [
        Option(
            "embed.backend",
            em,
            "Embedder of memories stored without a vector and of semantic/hybrid text "
            "queries: local (in-process model), openai (an OpenAI-compatible endpoint), none; "
            "auto: local if its model package is installed, else none",
            e.backend,
            choice(*BACKENDS),
        ),
        Option(
            "embed.query_cache",
            em,
            "Query vectors kept in memory (least recently used out first); 0 disables",
            e.query_cache,
            int_in(0, 1_000_000),
        ),
        Option(
            "embed.context",
            em,
            "Embed a memory's context with its text (context, blank line, text); off: the "
            "text alone, the context being keyword-searchable only (docs/search.md)",
            e.context,
            boolean,
            show=lambda v: str(v).lower(),
        ),
        Option(
            "embed.local.threads",
            em,
            "CPU threads the local model uses (0: all cores)",
            e.local_threads,
            int_in(0, 1024),
        ),
        Option(
            "embed.local.model",
            em,
            "The local model: minilm (all-MiniLM-L6-v2, English), e5 (multilingual-e5-small "
            "4-bit); auto: the one local model the store's namespaces record, else minilm "
            "if its package is installed, else e5",
            e.local_model,
            choice(*LOCAL_MODELS),
        ),
        Option(
            "embed.openai.url",
            em,
            "Base URL of the OpenAI-compatible API, up to /v1 (requests go to URL/embeddings)",
            e.openai_url,
            openai_url,
        ),
        Option("embed.openai.model", em, "The model name sent", e.openai_model, str),
        Option(
            "embed.openai.dimensions",
            em,
            "Dimension of the model's vectors (checked on every response)",
            e.openai_dimensions,
            int_in(0, 65_536),
        ),
        Option(
            "embed.openai.api_key_file",
            em,
            "File whose first line is the API key (sent as a bearer token)",
            e.openai_api_key_file,
            str,
        ),
        Option(
            "embed.openai.api_key_env",
            em,
            "Environment variable holding the API key when no key file is set",
            e.openai_api_key_env,
            str,
        ),
        Option(
            "embed.openai.batch_size",
            em,
            "Most texts per request",
            e.openai_batch_size,
            int_in(1, 4096),
        ),
        Option(
            "embed.openai.timeout_ms",
            em,
            "Total time one request may take",
            e.openai_timeout_ms,
            int_in(1, 600_000),
        ),
        Option(
            "embed.openai.retries",
            em,
            "Retries of a request failing with a network error, 408, 429 or 5xx (backoff "
            "from 100 ms)",
            e.openai_retries,
            int_in(0, 10),
        ),
        Option(
            "embed.openai.breaker_failures",
            em,
            "Failed calls in a row after which calls fail fast with UNAVAILABLE; 0: never",
            e.openai_breaker_failures,
            int_in(0, 1000),
        ),
        Option(
            "embed.openai.breaker_cooldown_ms",
            em,
            "How long calls fail fast before one call probes the endpoint again",
            e.openai_breaker_cooldown_ms,
            int_in(1, 3_600_000),
        ),
        Option(
            "embed.openai.input_type",
            em,
            "Send input_type (query or passage) in each request, for servers that use it",
            e.openai_input_type,
            boolean,
            show=lambda v: str(v).lower(),
        ),
    ]


OPTIONS: tuple[Option, ...] = (
    Option(
        "listen",
        _S,
        "gRPC address host:port or unix:///path.sock; repeat to listen on several",
        ["127.0.0.1:50051"],
        grpc_address,
        repeatable=True,
    ),
    Option("data_dir", _S, "LMDB data directory (created if missing)", "./data", str),
    Option(
        "metrics_listen",
        _S,
        'Prometheus /metrics address host:port; "off" disables it',
        "127.0.0.1:9464",
        http_address,
    ),
    Option(
        "log_level",
        _S,
        "debug, info, warning or error",
        "info",
        choice("debug", "info", "warning", "error"),
    ),
    Option(
        "log_format",
        _S,
        "text (key=value) or json, one line per event",
        "text",
        choice("text", "json"),
    ),
    Option("workers", _S, "Threads serving RPCs; each open stream holds one", 16, int_in(1)),
    Option(
        "max_concurrent_rpcs",
        _S,
        "RPCs in flight before new ones get RESOURCE_EXHAUSTED; 0: no limit (they queue)",
        0,
        int_in(),
    ),
    Option("grace_s", _S, "Seconds in-flight RPCs get to finish on SIGTERM", 10.0, float_in()),
    Option(
        "snapshot_budget_s",
        _S,
        "Most seconds the search snapshot may take at shutdown (after the grace period); "
        "one that would take longer is abandoned and the next start rebuilds. 0: none",
        15.0,
        float_in(),
    ),
    Option(
        "sweep_interval_s", _S, "Seconds between background TTL sweeps; 0 disables", 1.0, float_in()
    ),
    Option("sweep_max_items", _S, "Most expired memories one sweep removes", 1000, int_in(1)),
    Option(
        "max_message_bytes",
        _L,
        "Largest request or response message (bigger: RESOURCE_EXHAUSTED)",
        16 << 20,
        size,
        show=format_size,
    ),
    Option(
        "max_batch_items",
        _L,
        "Most memories or keys in one request (more: RESOURCE_EXHAUSTED)",
        10_000,
        int_in(1),
    ),
    Option(
        "engine.map_size_bytes",
        _E,
        "LMDB map size: the most the store can hold (virtual; the file grows as used)",
        _ENGINE.map_size_bytes,
        size,
        show=format_size,
    ),
    Option(
        "engine.durability",
        _E,
        "sync: fsync every commit (group-committed); nosync: periodic fsync, an OS crash "
        "may lose the last interval",
        _ENGINE.durability,
        choice("sync", "nosync"),
    ),
    Option(
        "engine.sync_interval_ms",
        _E,
        "Periodic fsync interval in nosync mode",
        _ENGINE.sync_interval_ms,
        int_in(1),
    ),
    Option(
        "engine.flush_interval_ms",
        _E,
        "How often access statistics are persisted",
        _ENGINE.flush_interval_ms,
        int_in(1),
    ),
    Option(
        "engine.default_tier",
        _E,
        "Tier for new memories stored without one",
        _ENGINE.default_tier,
        tier_number,
        show=_tier_name,
    ),
    Option(
        "engine.promote_min_reads",
        _E,
        "Reads within the promote window that promote a memory one tier up",
        _ENGINE.promote_min_reads,
        int_in(1),
    ),
    Option(
        "engine.promote_window_ms",
        _E,
        "The window for --engine-promote-min-reads",
        _ENGINE.promote_window_ms,
        int_in(1),
    ),
    Option(
        "engine.promote_importance",
        _E,
        "Importance above which any read promotes",
        _ENGINE.promote_importance,
        float_in(0.0, 1.0),
    ),
    Option(
        "engine.search_language",
        _E,
        "Language of keyword search's Snowball stemming, or none: "
        + ", ".join(SEARCH_LANGUAGES)
        + " (indexes are rebuilt with it at start)",
        _ENGINE.search_language,
        choice(*SEARCH_LANGUAGES),
    ),
    Option(
        "engine.search_stop_words",
        _E,
        "Drop the search language's stop-words (English: Snowball's list) from texts, "
        "queries and phrases (docs/search.md#stop-words; indexes are rebuilt with it at start)",
        _ENGINE.search_stop_words,
        boolean,
        show=lambda v: str(v).lower(),
    ),
    Option(
        "engine.max_value_bytes",
        _E,
        "Largest accepted value",
        _ENGINE.max_value_bytes,
        size,
        show=format_size,
    ),
    Option(
        "engine.max_text_bytes",
        _E,
        "Largest accepted text",
        _ENGINE.max_text_bytes,
        size,
        show=format_size,
    ),
    Option(
        "engine.max_embedding_dim",
        _E,
        "Largest accepted embedding dimension",
        _ENGINE.max_embedding_dim,
        int_in(1),
    ),
    # quant (#13): vector row storage.
    Option(
        "engine.vector_quantization",
        _E,
        "How vector indexes hold rows in memory: none (f32) or int8 (about 4x smaller, "
        "final candidates re-scored in f32 from the store; indexes are rebuilt at start)",
        _ENGINE.vector_quantization,
        choice("none", "int8"),
    ),
    *_tier_options(),
    *_lifecycle_options(),
    *_security_options(),
    *_tracing_options(),
    *_embed_options(),
    *_cluster_options(),
    *(Option(k, "archive", h, d, p, **x) for k, h, d, p, x in _archive.option_rows()),
)

OPTIONS_BY_KEY: dict[str, Option] = {opt.key: opt for opt in OPTIONS}
