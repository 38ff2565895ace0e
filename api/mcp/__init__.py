"""Verity's tools for AI agents over MCP: the tools (tools.py), served over HTTP at /mcp (http.py) and on stdio
by `verity mcp` (stdio.py).

Nothing is imported here: `verity --help` imports stdio.py to build its parser, and it stays light.
"""
