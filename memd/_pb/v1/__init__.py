"""memd.v1 messages and service stubs, generated from proto/memd/v1."""
