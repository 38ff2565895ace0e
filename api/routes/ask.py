from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.http.deps import CallerDep, VerityDep
from api.http.errors import STATUS_OF, problem_body
from api.schemas import AskPublic, AskRequest, DraftPublic, DraftRequest, DroppedPublic, SearchPublic, SearchRequest
from rag.domain.errors import VerityError
from rag.services.streaming import AskEvent, AskStream, DroppedEvent, ResultEvent, TextEvent

router = APIRouter(prefix="/v1", tags=["answers"])
log = logging.getLogger("verity.api")

STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "With `stream: true`: server-sent events `text`, `dropped`, then `result` or `error`; "
        "each event's `data` is a JSON object (a sentence, a dropped sentence, the whole response, a problem).",
        "content": {
            "text/event-stream": {
                "schema": {  # one event (schemathesis and OpenAPI 3.2 `itemSchema` read it so)
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "event": {"type": "string", "enum": ["text", "dropped", "result", "error"]},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/ask",
    response_model=AskPublic,
    responses=STREAM_DOC,
    summary="Answer from verified cards, or refuse with a reason",
)
async def ask(body: AskRequest, request: Request, verity: VerityDep, caller: CallerDep) -> Any:
    asker = caller.asker(body.groups)
    if not body.stream:
        result = await run_in_threadpool(verity.ask, body.question, asker, body.top_k)
        return AskPublic.of(result)
    # errors before the first event (bad question, store or model down) are plain problem+json responses
    stream = await run_in_threadpool(verity.ask_stream, body.question, asker, body.top_k)
    return StreamingResponse(
        _sse(stream, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _sse(stream: AskStream, request: Request) -> AsyncIterator[str]:
    """Events pulled from the (blocking) stream in the thread pool; a client that goes away closes it, which
    stops generation at the model's next token."""
    events: Iterator[AskEvent] = iter(stream)
    try:
        while True:
            try:
                # abandon_on_cancel: a client that hangs up cancels this await at once (Starlette cancels the
                # response on disconnect); `finally` then closes the stream, which stops at the next token
                event = await anyio.to_thread.run_sync(next, events, None, abandon_on_cancel=True)
            except VerityError as exc:
                status = STATUS_OF.get(exc.code, 500)
                log.error("stream failed: %s", exc)
                yield _event("error", problem_body(status, exc.code.value, exc.message, request.url.path))
                return
            except Exception:
                log.exception("stream failed")
                detail = "an unexpected error happened; it has been logged"
                yield _event("error", problem_body(500, "internal", detail, request.url.path))
                return
            if event is None:
                return
            yield _encode(event)
            if await request.is_disconnected():
                return
    finally:
        stream.close()


def _encode(event: AskEvent) -> str:
    if isinstance(event, TextEvent):
        return _event("text", {"text": event.text})
    if isinstance(event, DroppedEvent):
        d = event.dropped
        return _event("dropped", DroppedPublic.of(d).model_dump())
    assert isinstance(event, ResultEvent)
    return _event("result", AskPublic.of(event.result).model_dump(mode="json"))


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/search", response_model=SearchPublic, summary="Rank the cards you may see, with trust facts")
async def search(body: SearchRequest, verity: VerityDep, caller: CallerDep) -> SearchPublic:
    asker = caller.asker(body.groups)
    result = await run_in_threadpool(verity.search, body.query, asker, body.top_k)
    return SearchPublic.of(result)


@router.post(
    "/reply-drafts",
    response_model=DraftPublic,
    summary="Draft a reply to a customer from verified, shareable cards, or say what a human must decide",
)
async def reply_draft(body: DraftRequest, verity: VerityDep, caller: CallerDep) -> DraftPublic:
    asker = caller.asker(body.groups)
    draft = await run_in_threadpool(verity.draft_reply, body.message, asker, body.context, body.top_k)
    return DraftPublic.of(draft)
