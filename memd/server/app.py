"""Server assembly: engine, gRPC services, metrics endpoint, scheduler, and their stop.

Flavour: the sync grpcio server on a thread pool, not ``grpc.aio``. On these 2-core
machines the asyncio server answered 0.65-0.86 x the unary calls per second of the
thread pool with empty handlers (bench/grpc, docs/daemon.md), and the pool's worker
threads overlap engine calls, which release the GIL.

Shutdown order (``MemdServer.stop``), so that nothing acknowledged is lost and load
balancers see the drain before connections are refused:
1. health NOT_SERVING, draining flag on (streams end at their next message with
   UNAVAILABLE, after acknowledging everything committed);
2. the scheduler stops;
3. gRPC stops accepting and gives in-flight RPCs ``grace_s`` to finish;
   (cluster mode: this node's partitions are handed over first, docs/cluster.md;
   it leaves the cluster after step 3);
4. the engine flushes access statistics, writes the search snapshot (within
   ``snapshot_budget_s``, else not at all) and closes LMDB;
5. queued spans are exported (tracing on; up to the exporter's timeout);
6. the metrics endpoint stops last, so the drain itself can be scraped.
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry, start_http_server

from memd._pb.v1 import memory_service_pb2 as pb
from memd.archive import configure as configure_archive
from memd.archive.job import archive_job
from memd.auth.policy import Guard
from memd.auth.registry import TokenRegistry
from memd.auth.servicer import SERVICE_NAME as AUTH_SERVICE_NAME
from memd.auth.servicer import AuthServicer
from memd.auth.servicer import add_to_server as add_auth_to_server
from memd.config import Config, ConfigError
from memd.embed import configure as configure_embedding
from memd.embed import describe as describe_embedding
from memd.engine import Engine
from memd.errors import InvalidArgument, Unavailable
from memd.logs import event
from memd.metrics import Metrics
from memd.server.interceptors import ObservabilityInterceptor
from memd.server.reflection import enable_reflection
from memd.server.scheduler import (
    Job,
    Scheduler,
    consolidate_on_capacity_job,
    lifecycle_job,
    ttl_sweep_job,
)
from memd.server.security import InsecureExposure, check_exposure, server_credentials
from memd.server.servicer import MemoryServicer, add_to_server
from memd.server.status import DrainState
from memd.telemetry import TracingUnavailable, server_tracing

if TYPE_CHECKING:
    from memd.cluster.setup import ClusterParts

log = logging.getLogger("memd.server")

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["MemoryService"].full_name


class StartupError(Exception):
    """The daemon could not start (address in use, data directory locked, ...)."""


class MemdServer:
    """One running daemon. Build it with ``create_server``.

    Args:
        cfg: The configuration.
        registry: Prometheus registry for this server's metrics (a new one if None).
    """

    def __init__(self, cfg: Config, registry: CollectorRegistry | None = None) -> None:
        try:
            check_exposure(cfg)
        except InsecureExposure as exc:
            raise StartupError(str(exc)) from None
        self.cfg = cfg
        self.metrics = Metrics(registry)
        self.drain = DrainState()
        # Cluster mode: no node-local removal on read (memd/cluster/effects.py), and
        # reads' accesses wait for the owner's touch entries (memd/cluster/touch.py).
        engine_options = replace(
            cfg.engine, lazy_expiry=not cfg.cluster.enabled, deferred_access=cfg.cluster.enabled
        )
        self.engine = Engine(cfg.data_dir, engine_options)
        try:
            self._setup(cfg)
        except BaseException:
            self.close_parts()
            raise

    def _setup(self, cfg: Config) -> None:
        self.tokens = TokenRegistry(self.engine, cfg.admin_token_file)
        guard = Guard(self.tokens, self.metrics) if cfg.auth == "required" else None
        try:
            self._credentials = server_credentials(cfg)
        except (OSError, ValueError) as exc:
            raise StartupError(f"TLS: {exc}") from None
        try:
            self.tracing = server_tracing(cfg.tracing)
        except TracingUnavailable as exc:
            raise StartupError(str(exc)) from None
        try:
            self.embedding = configure_embedding(self.engine, cfg.embed)
        except (ConfigError, InvalidArgument) as exc:
            raise StartupError(f"embedding: {exc}") from None
        if cfg.cluster.enabled and cfg.archive.enabled:
            # Offloading rewrites records on one node alone, outside the log: replicas
            # would differ (docs/cluster.md, "What is not done yet").
            raise StartupError(
                "archive: an object-storage archive is not supported in cluster mode yet; "
                "leave archive.endpoint empty or run a single node"
            )
        try:
            self.archive = configure_archive(self.engine, cfg.archive)
        except (ConfigError, InvalidArgument) as exc:
            raise StartupError(f"archive: {exc}") from None
        self.metrics.watch_engine(self.engine)
        self.health = health.HealthServicer(experimental_non_blocking=True)
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._http: Any = None
        self.metrics_port = 0
        self.ports: list[int] = []
        options = [
            # Never share a port with another process: two daemons answering on one
            # address (each with its own store) would silently split the data.
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", cfg.max_message_bytes),
            ("grpc.max_send_message_length", cfg.max_message_bytes),
        ]
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="memd-rpc"),
            interceptors=[ObservabilityInterceptor(self.metrics, self.drain, guard, self.tracing)],
            options=options,
            maximum_concurrent_rpcs=cfg.max_concurrent_rpcs or None,
        )
        servicer_args: dict[str, Any] = {
            "engine": self.engine,
            "metrics": self.metrics,
            "drain": self.drain,
            "max_batch_items": cfg.max_batch_items,
            "max_message_bytes": cfg.max_message_bytes,
            "backup_dir": cfg.backup_dir,
        }
        services = [SERVICE_NAME, AUTH_SERVICE_NAME, health.SERVICE_NAME]
        self.cluster: ClusterParts | None = None
        if cfg.cluster.enabled:
            servicer, self.cluster = self._join_cluster(cfg, servicer_args)
            services.append(self.cluster.service_name)
        else:
            servicer = MemoryServicer(**servicer_args)
        add_to_server(servicer, self.grpc)
        add_auth_to_server(AuthServicer(self.tokens), self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        enable_reflection(self.grpc, services)
        jobs: list[Job] = []
        if self.cluster is not None:
            # Sweeps, lifecycle passes and consolidations run on every replica on their
            # own would make replicas differ: the owner appends them to its partitions'
            # logs instead (memd/cluster/effects.py), and its reads (touch.py).
            from memd.cluster.effects import cluster_jobs

            jobs = cluster_jobs(cfg, self.cluster.node, self.metrics)
            cfg = replace(cfg, sweep_interval_s=0, lifecycle_interval_s=0)
            cfg = replace(cfg, lifecycle_capacity_check_s=0)
        if cfg.sweep_interval_s > 0:
            jobs.append(ttl_sweep_job(self.engine, cfg.sweep_interval_s, cfg.sweep_max_items))
        if cfg.lifecycle_interval_s > 0:
            jobs.append(
                lifecycle_job(
                    self.engine,
                    self.metrics,
                    cfg.lifecycle_interval_s,
                    cfg.lifecycle_max_actions,
                )
            )
        if cfg.lifecycle_capacity_check_s > 0:
            jobs.append(
                consolidate_on_capacity_job(
                    self.engine,
                    self.metrics,
                    cfg.lifecycle_capacity_check_s,
                    cfg.lifecycle_consolidate_at,
                    cfg.lifecycle_max_actions,
                )
            )
        if self.archive and cfg.archive.interval_s > 0:
            jobs.append(archive_job(self.engine, cfg.archive.interval_s))
        self.scheduler = Scheduler(jobs, self.metrics)

    def close_parts(self) -> None:
        """Undo a start that failed: leave the cluster (if joined), close the engine."""
        cluster: ClusterParts | None = getattr(self, "cluster", None)
        if cluster is not None:
            cluster.stop()
        self.engine.close()

    def _join_cluster(
        self, cfg: Config, servicer_args: dict[str, Any]
    ) -> tuple[MemoryServicer, ClusterParts]:
        # Imported here: single-node daemons never load nats-py (docs/cluster.md).
        try:
            from memd.cluster.setup import build
        except ImportError as exc:
            raise StartupError(
                f"cluster mode needs nats-py: pip install 'memd-daemon[cluster]' ({exc})"
            ) from None

        try:
            return build(cfg, self.engine, self.metrics, servicer_args, self.grpc)
        except (ConfigError, Unavailable) as exc:
            raise StartupError(str(exc)) from None

    def bind(self) -> list[int]:
        """Bind every ``listen`` address; returns the ports (1 for a Unix socket)."""
        for address in self.cfg.listen:
            try:
                # TLS on TCP; a Unix socket is guarded by its file's permissions.
                if self._credentials is not None and not address.startswith("unix:"):
                    self.ports.append(self.grpc.add_secure_port(address, self._credentials))
                else:
                    self.ports.append(self.grpc.add_insecure_port(address))
            except RuntimeError as exc:
                raise StartupError(f"cannot listen on {address}: {exc}") from None
        return self.ports

    def start(self) -> None:
        """Serve: gRPC, then the metrics endpoint, then background jobs; mark SERVING."""
        self.grpc.start()
        if self.cfg.metrics_listen:
            host, _, port = self.cfg.metrics_listen.rpartition(":")
            try:
                self._http, _ = start_http_server(
                    int(port),
                    host.strip("[]"),
                    self.metrics.registry,
                    certfile=self.cfg.metrics_tls_cert or None,
                    keyfile=self.cfg.metrics_tls_key or None,
                )
            except OSError as exc:
                self.grpc.stop(None)
                raise StartupError(
                    f"cannot listen on {self.cfg.metrics_listen}: {exc.strerror}"
                ) from None
            self.metrics_port = self._http.server_port
        self.scheduler.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        grpc_addrs = [_bound(a, p) for a, p in zip(self.cfg.listen, self.ports, strict=True)]
        metrics_addr = _bound(self.cfg.metrics_listen, self.metrics_port)
        event(
            log,
            logging.INFO,
            "listening",
            grpc=grpc_addrs,
            metrics=metrics_addr,
            data_dir=self.cfg.data_dir,
            workers=self.cfg.workers,
            auth=self.cfg.auth,
            tls="mutual" if self.cfg.tls_client_ca else "on" if self._credentials else "off",
            tracing=self.tracing.describe() if self.tracing is not None else "off",
            embed=describe_embedding(self.embedding),
        )

    def stop(self, grace: float | None = None) -> None:
        """Drain and stop; see the module docstring for the order. Idempotent."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            grace = self.cfg.grace_s if grace is None else grace
            event(log, logging.INFO, "draining", grace_s=grace)
            self.drain.draining = True
            self.metrics.draining.set(1)
            self.health.enter_graceful_shutdown()
            if self.cluster is not None:
                # Hand the partitions over first, so that during the grace period
                # other nodes forward to their new owners rather than to this one.
                self.cluster.node.release()
            self.scheduler.stop()
            self.grpc.stop(grace).wait()
            if self.cluster is not None:
                self.cluster.stop()
            flushed = self.engine.flush()
            self.engine.close(snapshot_budget_s=self.cfg.snapshot_budget_s)
            if self.tracing is not None:  # the last calls' spans; waits for the exporter
                self.tracing.shutdown()
            if self._http is not None:
                self._http.shutdown()
                self._http.server_close()
            event(log, logging.INFO, "stopped", flushed=flushed)
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``stop`` finished; True if it did within ``timeout``."""
        return self._stopped.wait(timeout)


def create_server(
    cfg: Config, registry: CollectorRegistry | None = None
) -> tuple[MemdServer, list[int]]:
    """Open the store and bind every address; call ``start()`` to serve.

    Args:
        cfg: The configuration.
        registry: Prometheus registry for this server's metrics (a new one if None).

    Returns:
        The server and the bound ports, in ``cfg.listen`` order.

    Raises:
        StartupError: An address cannot be bound.
        memd.errors.MemdError: The store cannot be opened.
    """
    server = MemdServer(cfg, registry)
    try:
        return server, server.bind()
    except BaseException:
        server.close_parts()
        raise


def _bound(address: str, port: int) -> str:
    """``address`` with an ephemeral port 0 replaced by the one actually bound."""
    if not address or address.startswith("unix:") or not address.endswith(":0"):
        return address
    return f"{address[:-2]}:{port}"
