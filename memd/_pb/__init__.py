"""Generated protobuf and gRPC code for memd.v1 (make proto). Do not edit."""
