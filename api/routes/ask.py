from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import AskerResolverDep, VerityDep
from api.schemas import AskPublic, AskRequest, SearchPublic, SearchRequest

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/ask", response_model=AskPublic, summary="Answer from verified cards, or refuse with a reason")
async def ask(body: AskRequest, verity: VerityDep, resolver: AskerResolverDep) -> AskPublic:
    asker = resolver.resolve(body.groups)
    result = await run_in_threadpool(verity.ask, body.question, asker, body.top_k)
    return AskPublic.of(result)


@router.post("/search", response_model=SearchPublic, summary="Rank the cards you may see, with trust facts")
async def search(body: SearchRequest, verity: VerityDep, resolver: AskerResolverDep) -> SearchPublic:
    asker = resolver.resolve(body.groups)
    result = await run_in_threadpool(verity.search, body.query, asker, body.top_k)
    return SearchPublic.of(result)
