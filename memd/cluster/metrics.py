"""Cluster metrics of one node (registered only in cluster mode)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ClusterMetrics:
    """The ``memd_cluster_*`` metrics.

    Args:
        registry: The daemon's registry.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.partitions = Gauge(
            "memd_cluster_partitions",
            "Partitions this node owns (serving) or follows",
            ["role"],
            registry=registry,
        )
        self.pending = Gauge(
            "memd_cluster_replication_lag_entries",
            "Log entries appended but not yet applied here (at the last delivery)",
            registry=registry,
        )
        self.lag_seconds = Gauge(
            "memd_cluster_replication_lag_seconds",
            "Age of the log entry applied last, while entries are waiting; else 0",
            registry=registry,
        )
        self.applied = Counter(
            "memd_cluster_applied_entries_total",
            "Log entries of other owners applied here",
            registry=registry,
        )
        self.forwards = Counter(
            "memd_cluster_forwards_total",
            "Requests forwarded to a partition's owner",
            ["method"],
            registry=registry,
        )
        self.follower_reads = Counter(
            "memd_cluster_follower_reads_total",
            "Reads with a staleness bound answered from this node's follower copy",
            ["method"],
            registry=registry,
        )
        self.replica_reads = Counter(
            "memd_cluster_replica_reads_total",
            "Reads answered from this node's follower copy after the owner's read index",
            ["method"],
            registry=registry,
        )
        self.read_index_rounds = Counter(
            "memd_cluster_read_index_rounds_total",
            "Read-index calls this node made to owners (each for many reads)",
            registry=registry,
        )
        self.failovers = Counter(
            "memd_cluster_failovers_total",
            "Partitions this node took over from another owner",
            registry=registry,
        )
        self.handovers = Counter(
            "memd_cluster_handovers_total",
            "Partitions this node handed to a better-placed node (rebalancing)",
            registry=registry,
        )
        self.touch_entries = Counter(
            "memd_cluster_touch_entries_total",
            "touch entries (reads' access statistics) this node appended as an owner",
            registry=registry,
        )
        self.touch_sent = Counter(
            "memd_cluster_touch_keys_sent_total",
            "Keys read on this node as a follower (reads on a replica) sent to the owner",
            registry=registry,
        )
        self.touch_unsent = Counter(
            "memd_cluster_touch_keys_unsent_total",
            "Keys read here as a follower that no owner took (moving, or gone)",
            registry=registry,
        )
        self.touch_waiting = Gauge(
            "memd_cluster_touch_keys_waiting",
            "Keys whose reads wait for this owner's next touch entry",
            registry=registry,
        )
        self.touch_dropped = Counter(
            "memd_cluster_touch_reads_dropped_total",
            "Reads not counted because the buffer of waiting reads was full",
            registry=registry,
        )
        self.store_appends = Counter(
            "memd_cluster_store_appends_total",
            "Log entries of Stores this node appended as an owner (store or stores)",
            registry=registry,
        )
        self.stores_grouped = Counter(
            "memd_cluster_stores_grouped_total",
            "Stores this owner appended in a group (a stores entry) rather than alone",
            registry=registry,
        )
        self.purged = Counter(
            "memd_cluster_log_entries_purged_total",
            "Log entries this node purged as a partition's owner (compaction)",
            registry=registry,
        )
        self.snapshots_installed = Counter(
            "memd_cluster_snapshots_installed_total",
            "Partition copies installed here (the log no longer held the entries needed)",
            registry=registry,
        )
        self.snapshots_served = Counter(
            "memd_cluster_snapshots_served_total",
            "Partition copies this node sent to another node",
            registry=registry,
        )
        self.snapshot_bytes = Counter(
            "memd_cluster_snapshot_bytes_received_total",
            "Bytes of partition copies received here",
            registry=registry,
        )
        self.log_gaps = Counter(
            "memd_cluster_log_gaps_total",
            "Entries not applied because an entry before them was purged from the log",
            registry=registry,
        )
        self.fenced = Counter(
            "memd_cluster_fencing_rejections_total",
            "Appends the log refused because another node had taken the partition",
            registry=registry,
        )
