"""The app factory: wires routes, error handlers and the lifespan that builds the heavy objects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI
from starlette.routing import Route

from api.http.deps import AskerResolver, resolver_for
from api.http.errors import install_error_handlers
from api.http.limits import install_limits
from api.http.openapi import describe_problems
from api.mcp import http as mcp_http
from api.routes import ask, cards, check, feedback, gaps, health, web
from ingest.pipeline import IngestWriter
from rag.adapters.state.feedback import FeedbackStore
from rag.bootstrap import Runtime, build_gap_inbox, build_recorder, build_runtime, ingestor_for, open_event_log
from rag.config import Settings
from rag.domain.events import Channel
from rag.ports.events import StateEvents
from rag.services.catalog import Catalog

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
ROUTERS = (health.router, ask.router, check.router, cards.router, feedback.router, gaps.router, web.router)
"""Every router of the app, in order (the MCP endpoint at /mcp is mounted beside them)."""


def runtime_lifespan(
    build: Callable[[], Runtime],
    resolver: AskerResolver | None = None,
    open_feedback: Callable[[Settings], FeedbackStore] = feedback.open_store,
    open_events: Callable[[Settings], StateEvents] = open_event_log,
) -> Lifespan:
    """The runtime, the catalog and the asker resolver for the app's life; the feedback store and the event
    log (with the recorder that writes to it off the answers' path) are opened here and closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build()
        events = open_events(runtime.settings)
        recorder = build_recorder(runtime.settings, events, runtime.clock)
        runtime = replace(runtime, verity=runtime.verity.recording(recorder, Channel.HTTP))
        app.state.runtime = runtime
        app.state.recorder = recorder
        app.state.event_log = events
        app.state.gap_inbox = build_gap_inbox(runtime, events)
        app.state.catalog = catalog_for(runtime)
        app.state.asker_resolver = resolver or resolver_for(runtime.settings)
        store = open_feedback(runtime.settings)
        app.state.feedback_store = store
        try:
            yield
        finally:
            store.close()
            recorder.close()
            events.close()

    return lifespan


def catalog_for(runtime: Runtime) -> Catalog:
    """Card reads and writes; writes go through the ingest pipeline, one at a time per process."""
    return Catalog(runtime.index, IngestWriter(ingestor_for(runtime)), runtime.clock, runtime.languages)


def with_mcp(lifespan: Lifespan) -> Lifespan:
    """`lifespan`, then the MCP tools at /mcp over the runtime and catalog it put on the app."""

    @asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[None]:
        async with (
            lifespan(app),
            mcp_http.serving(app, mcp_runtime(app), app.state.catalog, getattr(app.state, "gap_inbox", None)),
        ):
            yield

    return both


def mcp_runtime(app: FastAPI) -> Runtime:
    """The app's runtime, recording what its MCP tools are asked as coming through MCP."""
    runtime: Runtime = app.state.runtime
    return replace(runtime, verity=runtime.verity.recording(getattr(app.state, "recorder", None), Channel.MCP))


def create_app(settings: Settings | None = None, lifespan: Lifespan | None = None) -> FastAPI:
    """`lifespan` lets tests hand in a runtime built with fakes; by default it is built from Settings."""
    chosen = lifespan or runtime_lifespan(lambda: build_runtime(settings or Settings()))
    app = FastAPI(
        title="Verity",
        version="0.1.0",
        summary="Answers only from verified cards, every claim cited, clear refusals.",
        lifespan=with_mcp(chosen),
    )
    install_error_handlers(app)
    install_limits(app)  # body size and time on every route, and keys checked before a route reads its body
    app.router.routes.append(Route(mcp_http.PATH, mcp_http.McpEndpoint(), include_in_schema=False))
    for router in ROUTERS:
        app.include_router(router)
    describe_problems(app)  # the OpenAPI document lists every problem response each route can give
    return app
