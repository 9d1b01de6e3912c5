"""Prometheus metrics of the daemon, each set bound to its own ``CollectorRegistry``.

Two kinds:
- Event metrics updated on the request path: the ``grpc_server_*`` family (the names of
  go-grpc-prometheus / py-grpc-prometheus, so stock dashboards work), items per batch,
  search latency and background-job runs. Children are bound once per method and code,
  so an RPC costs two dict lookups and two updates.
- Lifecycle metrics (``observe_lifecycle``): every action of a lifecycle pass that
  changed something (scheduled or RPC; dry runs change nothing and are not counted), by
  rule and action, and the pass durations by trigger.
- Engine metrics read at scrape time from ``engine.stats()`` and ``engine.map_info()``
  by a custom collector: memories and bytes per tier, raw and stored value bytes and the
  compression ratio, hits, misses, expiries, evictions, promotions and demotions by
  reason, consolidations, policy actions and dedup merges by tier, LMDB map usage. They
  are summed over namespaces: a namespace label would give one series per agent or user,
  which Prometheus cannot afford; the Stats RPC has the per-namespace detail.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from memd import _core
from memd.engine import Engine
from memd.errors import MemdError
from memd.types import Tier
from memd.version import memd_version

log = logging.getLogger(__name__)

_RPC = ("grpc_type", "grpc_service", "grpc_method")
# Handling time spans ~100 us (a cached read) to seconds (a big fsynced batch).
_LATENCY = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_ITEMS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
# A lifecycle pass spans milliseconds (one small namespace) to minutes (a million memories).
_PASS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_TIERS = {int(t): t.name.lower() for t in Tier if t is not Tier.UNSPECIFIED}
# Engine counter "<kind>.<reason>" -> metric; other names land in memd_engine_events.
_BY_REASON = {
    "expired": "memd_expired",
    "evicted": "memd_evicted",
    "demoted": "memd_demoted",
    "promoted": "memd_promoted",
}
# Lifecycle engine counters: "<kind>.<label>" (or a bare kind) -> metric, help, label.
_LIFECYCLE_COUNTERS = {
    "consolidated": ("memd_consolidated", "Memories consolidated (SHORT_TERM to LONG_TERM).", ""),
    "policy": ("memd_policy_actions", "Memories acted on by lifecycle policies.", "action"),
    "dedup": ("memd_dedup", "Stored items that were duplicates, by outcome.", "outcome"),
}


class MethodMetrics:
    """The metrics of one RPC method, with children bound ahead of the calls."""

    __slots__ = ("_by_code", "_handled", "_handling", "_labels", "received", "sent", "started")

    def __init__(self, metrics: Metrics, grpc_type: str, service: str, method: str) -> None:
        self._labels = (grpc_type, service, method)
        self._handled = metrics.handled
        self._handling = metrics.handling
        self._by_code: dict[grpc.StatusCode, tuple[Any, Any]] = {}
        self.started = metrics.started.labels(*self._labels)
        self.received = metrics.msg_received.labels(*self._labels)
        self.sent = metrics.msg_sent.labels(*self._labels)

    def done(self, code: grpc.StatusCode, seconds: float) -> None:
        """Count a finished RPC and observe its handling time."""
        pair = self._by_code.get(code)
        if pair is None:
            labels = (*self._labels, code.name)
            pair = self._by_code[code] = (
                self._handled.labels(*labels),
                self._handling.labels(*labels),
            )
        pair[0].inc()
        pair[1].observe(seconds)


class Metrics:
    """Every metric the daemon exports, registered in ``registry``.

    Args:
        registry: Where to register; tests pass a fresh one each.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.started = Counter(
            "grpc_server_started_total", "RPCs started on the server.", _RPC, registry=r
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by status code.",
            (*_RPC, "grpc_code"),
            registry=r,
        )
        self.handling = Histogram(
            "grpc_server_handling_seconds",
            "Time from handler start to status, by status code.",
            (*_RPC, "grpc_code"),
            buckets=_LATENCY,
            registry=r,
        )
        self.msg_received = Counter(
            "grpc_server_msg_received_total", "Stream messages received.", _RPC, registry=r
        )
        self.msg_sent = Counter(
            "grpc_server_msg_sent_total", "Stream messages sent.", _RPC, registry=r
        )
        self.batch_items = Histogram(
            "memd_batch_items",
            "Memories or keys per request message.",
            ("grpc_method",),
            buckets=_ITEMS,
            registry=r,
        )
        self.auth_denied = Counter(
            "memd_auth_denied_total",
            "Calls refused by access control, by reason: missing, malformed, unknown or "
            "expired token (UNAUTHENTICATED), no_grant (PERMISSION_DENIED).",
            ("reason",),
            registry=r,
        )
        self.search_seconds = Histogram(
            "memd_search_seconds",
            "Search latency by mode (keyword, semantic, hybrid).",
            ("mode",),
            buckets=_LATENCY,
            registry=r,
        )
        self.job_runs = Counter(
            "memd_scheduler_runs_total",
            "Background job runs by outcome (ok, error).",
            ("job", "outcome"),
            registry=r,
        )
        self.job_seconds = Histogram(
            "memd_scheduler_run_seconds",
            "Duration of background job runs.",
            ("job",),
            buckets=_LATENCY,
            registry=r,
        )
        self.job_items = Counter(
            "memd_scheduler_items_total",
            "Items processed by background jobs (e.g. expired memories swept).",
            ("job",),
            registry=r,
        )
        self.lifecycle_actions = Counter(
            "memd_lifecycle_actions_total",
            "Lifecycle actions applied (not dry runs), by rule (policy name or consolidate) "
            "and action.",
            ("rule", "action"),
            registry=r,
        )
        self.lifecycle_runs = Counter(
            "memd_lifecycle_runs_total",
            "Lifecycle passes by trigger (interval, capacity, rpc) and dry_run.",
            ("trigger", "dry_run"),
            registry=r,
        )
        self.lifecycle_seconds = Histogram(
            "memd_lifecycle_pass_seconds",
            "Duration of lifecycle passes by trigger.",
            ("trigger",),
            buckets=_PASS,
            registry=r,
        )
        self.lifecycle_scanned = Counter(
            "memd_lifecycle_scanned_total",
            "Memories evaluated by lifecycle passes.",
            registry=r,
        )
        self.lifecycle_skipped = Counter(
            "memd_lifecycle_skipped_total",
            "Planned lifecycle actions not applied because the memory changed meanwhile.",
            registry=r,
        )
        self.lifecycle_cascade = Counter(
            "memd_lifecycle_demoted_by_capacity_total",
            "Other memories that capacity moved as a consequence of lifecycle actions.",
            registry=r,
        )
        self.draining = Gauge("memd_draining", "1 while the server is shutting down.", registry=r)
        build = Gauge("memd_build_info", "Version of the running memd.", ("version",), registry=r)
        build.labels(memd_version()).set(1)

    def method(self, grpc_type: str, service: str, method: str) -> MethodMetrics:
        """Bound metrics of one RPC method."""
        return MethodMetrics(self, grpc_type, service, method)

    def observe_lifecycle(
        self, report: _core.LifecycleReport, trigger: str, dry_run: bool, seconds: float
    ) -> None:
        """Count one lifecycle pass; its actions only when it applied them."""
        self.lifecycle_runs.labels(trigger, "true" if dry_run else "false").inc()
        self.lifecycle_seconds.labels(trigger).observe(seconds)
        self.lifecycle_scanned.inc(report.scanned)
        if dry_run:
            return
        for rule, action, n in report.counts:
            self.lifecycle_actions.labels(rule, action).inc(n)
        self.lifecycle_skipped.inc(report.skipped)
        self.lifecycle_cascade.inc(report.demoted_by_capacity)

    def watch_engine(self, engine: Engine) -> None:
        """Export ``engine``'s statistics at every scrape."""
        self.registry.register(EngineCollector(engine))


class EngineCollector(Collector):
    """Reads engine statistics when Prometheus scrapes.

    Args:
        engine: The engine to read; once it is closed the collector yields nothing.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self) -> list[Metric]:
        """Nothing up front: the registry must not call ``collect`` at registration."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One sample per tier (and reason) summed over namespaces, plus map usage."""
        try:
            stats = self._engine.stats()
            info = self._engine.map_info()
        except MemdError as exc:  # closed while draining, or a storage fault
            log.debug("engine stats unavailable", extra={"fields": {"error": str(exc)}})
            return
        memories = GaugeMetricFamily("memd_memories", "Live memories by tier.", labels=["tier"])
        size = GaugeMetricFamily(
            "memd_stored_bytes", "Encoded bytes of records by tier.", labels=["tier"]
        )
        hits = CounterMetricFamily("memd_hits", "Reads that found a memory.", labels=["tier"])
        deleted = CounterMetricFamily("memd_deleted", "Memories deleted.", labels=["tier"])
        by_reason = {
            kind: CounterMetricFamily(
                name, f"Memories {kind} by reason.", labels=["tier", "reason"]
            )
            for kind, name in _BY_REASON.items()
        }
        lifecycle = {
            kind: CounterMetricFamily(name, text, labels=["tier", label] if label else ["tier"])
            for kind, (name, text, label) in _LIFECYCLE_COUNTERS.items()
        }
        other = CounterMetricFamily(
            "memd_engine_events", "Other engine counters.", labels=["tier", "event"]
        )
        value_bytes = GaugeMetricFamily(
            "memd_value_bytes", "Bytes of values as clients stored them, by tier.", labels=["tier"]
        )
        stored_value_bytes = GaugeMetricFamily(
            "memd_stored_value_bytes",
            "Bytes of values on disk (after compression), by tier.",
            labels=["tier"],
        )
        compressed = GaugeMetricFamily(
            "memd_compressed_memories", "Memories whose value is compressed.", labels=["tier"]
        )
        ratio = GaugeMetricFamily(
            "memd_compression_ratio",
            "Value bytes stored by clients / value bytes on disk, by tier (1 when empty).",
            labels=["tier"],
        )
        totals: dict[tuple[int, str], int] = defaultdict(int)
        count: dict[int, int] = defaultdict(int)
        nbytes: dict[int, int] = defaultdict(int)
        raw: dict[int, int] = defaultdict(int)
        stored: dict[int, int] = defaultdict(int)
        ncompressed: dict[int, int] = defaultdict(int)
        misses = 0
        for ns in stats:
            misses += ns.misses
            for ts in ns.tiers:
                count[ts.tier] += ts.count
                nbytes[ts.tier] += ts.bytes
                raw[ts.tier] += ts.value_bytes
                stored[ts.tier] += ts.stored_value_bytes
                ncompressed[ts.tier] += ts.compressed
                for name, value in ts.counters.items():
                    totals[(ts.tier, name)] += value
        for tier, name in _TIERS.items():
            memories.add_metric([name], count[tier])
            size.add_metric([name], nbytes[tier])
            value_bytes.add_metric([name], raw[tier])
            stored_value_bytes.add_metric([name], stored[tier])
            compressed.add_metric([name], ncompressed[tier])
            ratio.add_metric([name], raw[tier] / stored[tier] if stored[tier] else 1.0)
        for (tier, event), value in sorted(totals.items()):
            tier_name = _TIERS.get(tier, str(tier))
            kind, _, reason = event.partition(".")
            if event == "hits":
                hits.add_metric([tier_name], value)
            elif event == "deleted":
                deleted.add_metric([tier_name], value)
            elif kind in by_reason and reason:
                by_reason[kind].add_metric([tier_name, reason], value)
            elif kind in lifecycle and bool(reason) == bool(_LIFECYCLE_COUNTERS[kind][2]):
                lifecycle[kind].add_metric([tier_name, reason] if reason else [tier_name], value)
            else:
                other.add_metric([tier_name, event], value)
        yield from (memories, size, hits, deleted, *by_reason.values(), *lifecycle.values(), other)
        yield from (value_bytes, stored_value_bytes, compressed, ratio)
        yield CounterMetricFamily("memd_misses", "Reads of missing or expired keys.", value=misses)
        yield GaugeMetricFamily("memd_namespaces", "Namespaces holding memories.", len(stats))
        yield GaugeMetricFamily(
            "memd_lmdb_map_size_bytes", "LMDB map size (capacity).", info.map_size
        )
        yield GaugeMetricFamily(
            "memd_lmdb_map_used_bytes", "LMDB map bytes in use.", info.used_bytes
        )
