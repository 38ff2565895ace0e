"""`POST /v1/check`: check a reply someone wrote, sentence by sentence, against the verified cards they may see."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.http.deps import CallerDep, VerityDep
from api.schemas import CheckPublic, CheckRequest

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post(
    "/check",
    response_model=CheckPublic,
    summary="Check a reply: each sentence supported by verified cards, not supported, or not covered",
)
async def check(body: CheckRequest, verity: VerityDep, caller: CallerDep) -> CheckPublic:
    asker = caller.asker(body.groups)
    result = await run_in_threadpool(verity.check_reply, body.text, asker, body.top_k)
    return CheckPublic.of(result)
