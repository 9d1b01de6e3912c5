"""Cluster mode: namespaces spread over memd nodes, replicated through NATS JetStream.

See docs/cluster.md. Nothing here is imported unless ``--cluster`` is set (but for the
``memd cluster`` command, a plain gRPC client), so the single-node daemon neither loads
nats-py nor pays for any of it.
"""
