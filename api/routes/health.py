from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.http.deps import RuntimeDep
from api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic, summary="Liveness and store reachability")
async def healthz(runtime: RuntimeDep) -> HealthPublic:
    await run_in_threadpool(runtime.index.ping)
    return HealthPublic(
        status="ok",
        embedder=runtime.embedder.name,
        store="server" if runtime.settings.chroma_host else "embedded",
        answerer=runtime.settings.answerer.value,
    )
