"""Daemon configuration: one table of options, four layers, one precedence.

Every option has a dotted key (its place in the TOML file), and from it a flag and an
environment variable are derived mechanically: ``tiers.working.capacity`` is
``[tiers.working] capacity = 100`` in TOML, ``--tiers-working-capacity`` on the command
line and ``MEMD_TIERS_WORKING_CAPACITY`` in the environment; ``data_dir`` is
``data_dir``, ``--data-dir`` and ``MEMD_DATA_DIR``.

Precedence, highest first: command-line flags > ``MEMD_*`` environment variables >
the TOML file (``--config`` / ``MEMD_CONFIG``) > built-in defaults. A list option
(``listen``) is replaced as a whole by the highest layer that sets it; in the
environment it is comma-separated.

Two options are lists of tables and exist only in the TOML file:
``[[lifecycle.policies]]`` and ``[lifecycle.categories.<name>]``
(``memd.config_tables.TABLE_OPTIONS``; see docs/lifecycle.md).
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from memd.archive import options as archive_options
from memd.archive.options import ArchiveOptions
from memd.cluster.options import ClusterOptions
from memd.config_groups import GROUPS
from memd.config_options import OPTIONS, OPTIONS_BY_KEY, Option
from memd.config_parse import TIER_NAMES, ConfigError, boolean
from memd.config_tables import TABLE_OPTIONS, TableOption
from memd.embed.options import EmbedOptions
from memd.telemetry.options import TracingOptions
from memd.types import EngineOptions, LifecycleOptions, TierOptions

__all__ = ["Config", "ConfigError", "add_arguments", "load_config"]


@dataclass(frozen=True, slots=True)
class Config:
    """The resolved daemon configuration. See ``memd serve --help`` for each field.

    Attributes:
        listen: gRPC addresses: ``host:port`` or ``unix:///path.sock``.
        data_dir: LMDB directory.
        metrics_listen: ``host:port`` of the Prometheus endpoint; empty disables it.
        log_level: ``debug``, ``info``, ``warning`` or ``error``.
        log_format: ``text`` or ``json``.
        workers: Threads serving RPCs (each open stream holds one).
        max_concurrent_rpcs: RPCs in flight before new ones get RESOURCE_EXHAUSTED;
            0: no limit (excess RPCs wait for a free worker).
        max_message_bytes: Largest request or response message.
        max_batch_items: Most memories or keys in one request message.
        grace_s: Seconds in-flight RPCs get to finish on shutdown.
        snapshot_budget_s: Most seconds the search snapshot may take at shutdown
            (docs/daemon.md); one that would take longer is not written. 0: never
            written.
        sweep_interval_s: Seconds between background TTL sweeps; 0 disables them.
        sweep_max_items: Most expired memories one sweep removes.
        lifecycle_interval_s: Seconds between full lifecycle passes; 0 disables them.
        lifecycle_max_actions: Most actions one scheduled lifecycle pass takes.
        lifecycle_capacity_check_s: Seconds between SHORT_TERM fill checks; 0 disables.
        lifecycle_consolidate_at: SHORT_TERM fill (count / capacity) at which a
            namespace is consolidated.
        auth: ``off`` or ``required`` (bearer tokens on every call).
        admin_token_file: File with the bootstrap admin token; empty: none.
        insecure_no_auth: Allow ``auth = off`` on non-loopback addresses.
        tls_cert: Server certificate chain (PEM path); empty: plaintext gRPC.
        tls_key: Server private key (PEM path).
        tls_client_ca: CA for client certificates (PEM path); set: mutual TLS.
        metrics_tls_cert: Metrics endpoint certificate (PEM path); empty: HTTP.
        metrics_tls_key: Metrics endpoint private key (PEM path).
        backup_dir: Directory Backup writes under; empty: Backup is refused.
        tracing: OpenTelemetry spans of the RPCs (docs/tracing.md).
        embed: Server-side embedders (docs/embeddings.md).
        cluster: Cluster mode (docs/cluster.md); off unless ``cluster.url`` is set.
        archive: The object-storage archive (docs/archive.md).
        engine: How the store is opened (``engine.lifecycle``: the rules themselves).
    """

    # No defaults here: they live in the option table (memd.config_options), once.
    listen: tuple[str, ...]
    data_dir: str
    metrics_listen: str
    log_level: str
    log_format: str
    workers: int
    max_concurrent_rpcs: int
    max_message_bytes: int
    max_batch_items: int
    grace_s: float
    snapshot_budget_s: float
    sweep_interval_s: float
    sweep_max_items: int
    lifecycle_interval_s: float
    lifecycle_max_actions: int
    lifecycle_capacity_check_s: float
    lifecycle_consolidate_at: float
    auth: str
    admin_token_file: str
    insecure_no_auth: bool
    tls_cert: str
    tls_key: str
    tls_client_ca: str
    metrics_tls_cert: str
    metrics_tls_key: str
    backup_dir: str
    tracing: TracingOptions
    embed: EmbedOptions
    cluster: ClusterOptions
    engine: EngineOptions
    archive: ArchiveOptions

    @classmethod
    def defaults(cls, **overrides: Any) -> Config:
        """The built-in defaults (no file, no environment), with ``overrides`` applied."""
        return replace(_build(_defaults()), **overrides)

    def to_json(self) -> str:
        """The configuration as JSON (what ``memd serve --print-config`` prints)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config`` and one flag per option to ``parser``.

    Flags default to ``argparse.SUPPRESS`` so that only the ones given on the command
    line reach ``load_config`` and lower layers show through.
    """
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="TOML configuration file (env MEMD_CONFIG). Keys are the dotted option keys "
        "below, as TOML tables: e.g. [engine] durability = 'nosync'.",
    )
    groups: dict[str, argparse._ArgumentGroup] = {}
    for opt in OPTIONS:
        group = groups.get(opt.group)
        if group is None:
            topic = GROUPS[opt.group]
            group = groups[opt.group] = parser.add_argument_group(
                topic.title, f"{topic.description[0].upper()}{topic.description[1:]}."
            )
        help_text = f"{opt.help} (env {opt.env}; default {opt.default_text})"
        # A boolean flag alone means true (--insecure-no-auth); =false still parses.
        switch = {"nargs": "?", "const": True} if opt.parse is boolean else {}
        group.add_argument(
            opt.flag,
            *opt.aliases,
            dest=opt.dest,
            metavar=opt.metavar,
            action="append" if opt.repeatable else "store",
            type=opt.parse,
            default=argparse.SUPPRESS,
            help=help_text.replace("%", "%%"),
            **switch,  # type: ignore[arg-type]
        )


def load_config(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Config:
    """Merge defaults, the TOML file, ``MEMD_*`` variables and flags into a Config.

    Args:
        args: Parsed flags (from a parser prepared by ``add_arguments``).
        environ: Environment to read; ``os.environ`` by default.

    Raises:
        ConfigError: An unknown key, a value of the wrong type or out of range.
    """
    env = os.environ if environ is None else environ
    values = _defaults()
    path = getattr(args, "config", None) or env.get("MEMD_CONFIG")
    if path:
        values.update(_read_toml(path))
    for opt in OPTIONS:
        if opt.env in env:
            values[opt.key] = opt.parse_env(env[opt.env])
    for opt in OPTIONS:
        if hasattr(args, opt.dest):
            values[opt.key] = getattr(args, opt.dest)
    return _build(values)


def _defaults() -> dict[str, Any]:
    values: dict[str, Any] = {opt.key: opt.default for opt in OPTIONS}
    values.update({t.key: t.default for t in TABLE_OPTIONS.values()})
    return values


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    flat: dict[str, Any] = {}
    _flatten(doc, "", flat)
    out: dict[str, Any] = {}
    for key, value in flat.items():
        table: TableOption | None = TABLE_OPTIONS.get(key)
        if table is not None:
            out[key] = table.parse(value, path)
            continue
        opt = OPTIONS_BY_KEY.get(key)
        if opt is None:
            raise ConfigError(f"{path}: unknown option {key!r}")
        out[key] = opt.check_toml(value, path)
    return out


def _flatten(doc: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in doc.items():
        dotted = f"{prefix}{key}"
        # A table is descended into unless it names an option itself.
        if isinstance(value, dict) and dotted not in OPTIONS_BY_KEY and dotted not in TABLE_OPTIONS:
            _flatten(value, dotted + ".", out)
        else:
            out[dotted] = value


def _build(v: Mapping[str, Any]) -> Config:
    tiers = tuple(
        TierOptions(
            capacity=v[f"tiers.{name}.capacity"],
            default_ttl_ms=v[f"tiers.{name}.default_ttl_ms"],
        )
        for name in TIER_NAMES
    )
    engine = EngineOptions(
        map_size_bytes=v["engine.map_size_bytes"],
        durability=v["engine.durability"],
        sync_interval_ms=v["engine.sync_interval_ms"],
        flush_interval_ms=v["engine.flush_interval_ms"],
        tiers=(tiers[0], tiers[1], tiers[2], tiers[3]),
        default_tier=v["engine.default_tier"],
        promote_min_reads=v["engine.promote_min_reads"],
        promote_window_ms=v["engine.promote_window_ms"],
        promote_importance=v["engine.promote_importance"],
        max_value_bytes=v["engine.max_value_bytes"],
        max_text_bytes=v["engine.max_text_bytes"],
        max_embedding_dim=v["engine.max_embedding_dim"],
        search_language=v["engine.search_language"],
        search_stop_words=v["engine.search_stop_words"],
        vector_quantization=v["engine.vector_quantization"],
        vector_quantization_namespaces=tuple(v["engine.vector_quantization_namespaces"]),
        lifecycle=LifecycleOptions(
            consolidate_min_importance=v["lifecycle.consolidate_min_importance"],
            consolidate_min_access_count=v["lifecycle.consolidate_min_access_count"],
            consolidate_min_age_ms=v["lifecycle.consolidate_min_age_ms"],
            policies=tuple(v["lifecycle.policies"]),
            categories=tuple(v["lifecycle.categories"]),
            dedup_exact=v["dedup.exact"],
            dedup_near_threshold=v["dedup.near_threshold"],
            dedup_near_action=v["dedup.near_action"],
            compress_from_tier=v["compression.from_tier"],
            compress_min_bytes=v["compression.min_bytes"],
        ),
    )
    listen = tuple(v["listen"])
    if not listen:
        raise ConfigError("listen: at least one address is required")
    return Config(
        listen=listen,
        data_dir=v["data_dir"],
        metrics_listen=v["metrics_listen"],
        log_level=v["log_level"],
        log_format=v["log_format"],
        workers=v["workers"],
        max_concurrent_rpcs=v["max_concurrent_rpcs"],
        max_message_bytes=v["max_message_bytes"],
        max_batch_items=v["max_batch_items"],
        grace_s=v["grace_s"],
        snapshot_budget_s=v["snapshot_budget_s"],
        sweep_interval_s=v["sweep_interval_s"],
        sweep_max_items=v["sweep_max_items"],
        lifecycle_interval_s=v["lifecycle.interval_s"],
        lifecycle_max_actions=v["lifecycle.max_actions"],
        lifecycle_capacity_check_s=v["lifecycle.capacity_check_s"],
        lifecycle_consolidate_at=v["lifecycle.consolidate_at"],
        auth=v["auth"],
        admin_token_file=v["admin_token_file"],
        insecure_no_auth=v["insecure_no_auth"],
        tls_cert=v["tls.cert"],
        tls_key=v["tls.key"],
        tls_client_ca=v["tls.client_ca"],
        metrics_tls_cert=v["metrics_tls.cert"],
        metrics_tls_key=v["metrics_tls.key"],
        backup_dir=v["backup_dir"],
        tracing=TracingOptions(
            enabled=v["tracing.enabled"],
            exporter=v["tracing.exporter"],
            endpoint=v["tracing.endpoint"],
            protocol=v["tracing.protocol"],
            service_name=v["tracing.service_name"],
            record_content=v["tracing.record_content"],
        ),
        embed=EmbedOptions(
            backend=v["embed.backend"],
            namespaces=tuple(v["embed.namespaces"]),
            query_cache=v["embed.query_cache"],
            context=v["embed.context"],
            local_threads=v["embed.local.threads"],
            local_model=v["embed.local.model"],
            openai_url=v["embed.openai.url"],
            openai_model=v["embed.openai.model"],
            openai_dimensions=v["embed.openai.dimensions"],
            openai_api_key_file=v["embed.openai.api_key_file"],
            openai_api_key_env=v["embed.openai.api_key_env"],
            openai_batch_size=v["embed.openai.batch_size"],
            openai_timeout_ms=v["embed.openai.timeout_ms"],
            openai_retries=v["embed.openai.retries"],
            openai_breaker_failures=v["embed.openai.breaker_failures"],
            openai_breaker_cooldown_ms=v["embed.openai.breaker_cooldown_ms"],
            openai_input_type=v["embed.openai.input_type"],
        ),
        cluster=ClusterOptions(
            url=v["cluster.url"],
            node_id=v["cluster.node_id"],
            advertise=v["cluster.advertise"],
            partitions=v["cluster.partitions"],
            replicas=v["cluster.replicas"],
            lease_s=v["cluster.lease_s"],
            log_keep_entries=v["cluster.log_keep_entries"],
            replica_reads=v["cluster.replica_reads"],
        ),
        engine=engine,
        archive=archive_options.from_values(v),
    )


def describe_options() -> list[Option]:
    """Every option, in ``--help`` order (used to generate the docs table)."""
    return list(OPTIONS)


def describe_table_options() -> list[TableOption]:
    """The TOML-only options (lists of tables), for the docs."""
    return list(TABLE_OPTIONS.values())
