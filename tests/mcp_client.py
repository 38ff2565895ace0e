"""What both test tiers need to talk to Verity's MCP tools with the SDK's client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp import Client
from mcp.types import CallToolResult

Session = Callable[[Client], Awaitable[None]]
"""What a test does with a connected client."""

TOOLS = {"ask", "search", "get_card", "draft_reply", "check_reply", "list_gaps"}

# a raw initialize request, for checking what the HTTP gate answers before any MCP handling
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def text(result: CallToolResult) -> str:
    """The text blocks of a tool result (what an error says)."""
    return " ".join(getattr(c, "text", "") for c in result.content)


def structured(result: CallToolResult) -> dict[str, Any]:
    """The structured output of a successful tool call."""
    assert not result.is_error, text(result)
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content
