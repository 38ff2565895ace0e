"""The MCP tools over streamable HTTP at `/mcp`, beside the REST API, with the REST API's identity rule.

Every HTTP request to `/mcp` passes the gate first: with read keys it needs `Authorization: Bearer KEY`
(401 problem+json otherwise) and the asker sees the key's groups, narrowed by `X-Verity-Groups` if given
(a group the key does not hold: 403); without read keys the groups are `X-Verity-Groups`, as set by a
trusted gateway. The gate puts the asker on the request; the tools read it from there, per request.

The session manager runs stateless with JSON responses: no session lives in a replica, so any number of
replicas can serve `/mcp` behind a load balancer, like the REST API.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from api.http.deps import AskerResolver
from api.mcp.tools import GapLister, build_mcp_server
from rag.bootstrap import Runtime
from rag.domain.cards import GROUP_PATTERN
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker
from rag.services.catalog import Catalog

PATH = "/mcp"
GROUPS_HEADER = "x-verity-groups"
MAX_GROUPS = 50
_ASKER = "verity.asker"  # key of the resolved asker in the ASGI scope


def group_names(values: Iterable[str], where: str) -> list[str]:
    """Stated group names, checked like the REST API's `groups`; a malformed one is a 422."""
    names = [g.strip() for g in values if g.strip()]
    if len(names) > MAX_GROUPS:
        raise VerityError(ErrorCode.INVALID_REQUEST, f"{where} names more than {MAX_GROUPS} groups")
    for name in names:
        if not re.fullmatch(GROUP_PATTERN, name):
            raise VerityError(ErrorCode.INVALID_REQUEST, f"{where}: {name[:64]!r} is not a group name")
    return names


def groups_header(value: str | None) -> list[str]:
    """`X-Verity-Groups: finance, support` -> ["finance", "support"]."""
    return group_names((value or "").split(","), "X-Verity-Groups")


def resolve_asker(resolver: AskerResolver, headers: Headers) -> Asker:
    """The asker of one HTTP request to /mcp (raises VerityError 401/422 or GroupNotHeldError 403)."""
    caller = resolver.caller(headers.get("authorization"))
    return caller.asker(groups_header(headers.get(GROUPS_HEADER)))


def asker_from_request(ctx: Context) -> Asker:
    """The asker the gate put on this call's HTTP request. Never a default: no asker, no answer."""
    request = ctx.request_context.request
    asker = getattr(request, "scope", {}).get(_ASKER)
    if not isinstance(asker, Asker):
        raise ToolError("this call carries no identity")
    return asker


class McpEndpoint:
    """ASGI app at /mcp: the gate, then the SDK's session manager of this app (started in its lifespan).
    Errors are raised, so the app's handlers answer them as problem+json like every other endpoint."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        scope[_ASKER] = resolve_asker(state.asker_resolver, Headers(scope=scope))
        sessions: StreamableHTTPSessionManager = state.mcp_sessions
        await sessions.handle_request(scope, receive, send)


@asynccontextmanager
async def serving(
    app: FastAPI, runtime: Runtime, catalog: Catalog, gap_inbox: GapLister | None = None
) -> AsyncIterator[None]:
    """Build the MCP server for this runtime and run its session manager for the app's lifetime."""
    server = build_mcp_server(runtime.verity, catalog, asker_from_request, gap_inbox)
    server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        # Host/Origin checks off: `/mcp` is as reachable as the REST API beside it, which answers the same
        # data; access is controlled by read keys or the gateway, and the bind address is not known here.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.state.mcp_sessions = server.session_manager
    async with server.session_manager.run():
        yield
