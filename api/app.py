"""The app factory: wires routes, error handlers and the lifespan that builds the heavy objects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from api.deps import AskerResolver, TrustedGatewayResolver
from api.errors import install_error_handlers
from api.routes import ask, health
from rag.factory import Runtime, build_runtime
from rag.settings import Settings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def runtime_lifespan(build: Callable[[], Runtime], resolver: AskerResolver | None = None) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build()
        runtime.index.language_centroids()  # computed now, so that the first question is not the slow one
        app.state.runtime = runtime
        app.state.asker_resolver = resolver or TrustedGatewayResolver()
        yield

    return lifespan


def create_app(settings: Settings | None = None, lifespan: Lifespan | None = None) -> FastAPI:
    """`lifespan` lets tests hand in a runtime built with fakes; by default it is built from Settings."""
    chosen = lifespan or runtime_lifespan(lambda: build_runtime(settings or Settings()))
    app = FastAPI(
        title="Verity",
        version="0.1.0",
        summary="Answers only from verified cards, every claim cited, clear refusals.",
        lifespan=chosen,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(ask.router)
    return app
