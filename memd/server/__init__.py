"""The gRPC daemon: server assembly, servicer, conversions, status mapping, metrics hooks."""
