"""Verity's MCP tools for AI agents, served over HTTP at /mcp and on stdio by `verity mcp`.

tools.py declares the tools; http.py serves them at /mcp beside the REST API; stdio.py is `verity mcp`.
Nothing is imported here: `verity --help` imports stdio.py to build its parser, and it stays light.
"""
