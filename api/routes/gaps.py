"""The gap inbox: questions Verity refused for want of any card, grouped across languages (rag/services/gaps/)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.http.auth import WriterDep
from api.http.deps import CallerDep
from api.schemas.gaps import CloseGapRequest, GapClosurePublic, GapPublic, GapsPublic
from rag.domain.types import Asker
from rag.services.gaps.inbox import GapInbox

router = APIRouter(tags=["knowledge team"])


def get_gap_inbox(request: Request) -> GapInbox:
    inbox: GapInbox = request.app.state.gap_inbox
    return inbox


GapInboxDep = Annotated[GapInbox, Depends(get_gap_inbox)]
Days = Annotated[int, Query(ge=1, le=365, description="The window: questions refused in the last N days.")]


@router.get("/v1/gaps", response_model=GapsPublic, summary="Questions Verity could not answer, grouped into gaps")
async def list_gaps(
    inbox: GapInboxDep,
    caller: CallerDep,
    days: Days = 30,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> GapsPublic:
    asker = caller.asker([])
    gaps = await run_in_threadpool(inbox.gaps, asker, timedelta(days=days), limit)
    return GapsPublic(as_of=inbox.now(), window_days=days, gaps=[GapPublic.of(g) for g in gaps])


@router.post(
    "/v1/gaps/{gap_id}/close", response_model=GapClosurePublic, summary="Close a gap with the card that now answers it"
)
async def close_gap(
    gap_id: Annotated[str, Path(pattern=r"^g[0-9]{1,18}$")],
    body: CloseGapRequest,
    inbox: GapInboxDep,
    key: WriterDep,
    days: Days = 30,
) -> GapClosurePublic:
    closer = Asker(groups=key.held if key.held is not None else frozenset(), subject=key.subject)
    every_card = key.held is None  # a write key of the comma-separated form writes, and links, every card
    closure = await run_in_threadpool(inbox.close, gap_id, body.card_id, closer, timedelta(days=days), every_card)
    return GapClosurePublic.of(closure)
