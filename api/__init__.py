"""Interfaces to Verity: the FastAPI app (HTTP), the MCP tools and the `verity` command line.

app.py builds the app from the routers it lists; http/ holds what every route shares (identity, errors,
limits, the OpenAPI document); routes/ the endpoints; schemas/ what they read and return; mcp/ the tools for
agents (over HTTP and stdio); cli/ the command line; static/ the web page's files.
"""
