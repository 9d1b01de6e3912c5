"""``memd mcp``: memd's memory tools for MCP hosts, proxied to a running daemon.

Importing this package does not import the MCP SDK (the optional ``mcp`` extra);
only ``memd.mcp.server`` does, when the command runs.
"""
