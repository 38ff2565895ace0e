"""Thumbs up / down on answers and reply drafts: stored for the feedback (gap) work, listed behind the write key.

The app's lifespan (api/app.py `runtime_lifespan`) opens the store with `open_store` at startup and closes it
at shutdown. Tests hand in another store through `runtime_lifespan(..., open_feedback=...)` or with
`app.dependency_overrides[get_feedback_store]`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.http.auth import WriterDep
from api.http.deps import CallerDep
from api.schemas import Group
from rag.adapters.state.feedback import (
    FEEDBACK_FILE,
    FeedbackStore,
    NewFeedback,
    RatedOutcome,
    SQLiteFeedbackStore,
    StoredFeedback,
    Verdict,
)
from rag.config import Settings
from rag.domain.cards import ID_PATTERN, NOT_BLANK
from rag.domain.errors import ErrorCode, VerityError
from rag.services.drafts import HumanDecision

router = APIRouter(prefix="/v1", tags=["feedback"])
log = logging.getLogger("verity.api")

MAX_QUESTION_CHARS = 4000
MAX_ANSWER_CHARS = 20_000
MAX_COMMENT_CHARS = 2000
MAX_CITED_CARDS = 50
MAX_FEEDBACK_ID = 2**63 - 1  # SQLite's largest INTEGER; a larger `before` overflowed into a 500

CardId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Text = Annotated[str, StringConstraints(strip_whitespace=True)]
REFUSED = {RatedOutcome.REFUSED, RatedOutcome.NEEDS_HUMAN}


@dataclass(frozen=True, slots=True)
class UnavailableFeedbackStore:
    """A store that could not be opened: the server still serves, and each rating is that error (503)."""

    error: VerityError

    def add(self, feedback: NewFeedback) -> StoredFeedback:
        raise VerityError(self.error.code, self.error.message)

    def recent(self, limit: int, before_id: int | None = None) -> Sequence[StoredFeedback]:
        raise VerityError(self.error.code, self.error.message)

    def close(self) -> None:
        return None


def open_store(settings: Settings) -> FeedbackStore:
    """The SQLite store beside the embedded Chroma store (VERITY_DATA_DIR/feedback.sqlite3), one per app."""
    try:
        return SQLiteFeedbackStore(settings.data_dir / FEEDBACK_FILE)
    except VerityError as exc:
        log.warning("ratings will answer 503: %s", exc.message)
        return UnavailableFeedbackStore(exc)


def get_feedback_store(request: Request) -> FeedbackStore:
    """The store the app's lifespan opened."""
    store: FeedbackStore = request.app.state.feedback_store
    return store


FeedbackStoreDep = Annotated[FeedbackStore, Depends(get_feedback_store)]


# `_reason_matches_outcome` in JSON Schema, so that the OpenAPI document says what is accepted
REASON_RULES: dict[str, Any] = {
    "allOf": [
        {
            "if": {"properties": {"outcome": {"enum": sorted(o.value for o in REFUSED)}}},
            "then": {"required": ["reason"], "properties": {"reason": {"not": {"type": "null"}}}},
            "else": {"properties": {"reason": {"type": "null"}}},
        },
        {
            "if": {"properties": {"outcome": {"const": RatedOutcome.REFUSED.value}}},
            "then": {"properties": {"reason": {"not": {"const": HumanDecision.INTERNAL_ONLY.value}}}},
        },
    ]
}


class FeedbackRequest(BaseModel):
    """What the person rated, as their page showed it, and their verdict."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=REASON_RULES)

    question: Annotated[Text, Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=NOT_BLANK)] = Field(
        description="The question asked, or the customer message of a reply draft."
    )
    answer: Annotated[Text, Field(max_length=MAX_ANSWER_CHARS)] | None = Field(
        None, description="The answer or reply text shown; null for a refusal."
    )
    cited_card_ids: Annotated[list[CardId], Field(max_length=MAX_CITED_CARDS)] = Field(
        default_factory=list, description="Ids of the cards cited (or offered as candidates) on the page."
    )
    outcome: RatedOutcome
    reason: HumanDecision | None = Field(
        None, description="The refusal reason (refused) or the human decision (needs_human); null otherwise."
    )
    verdict: Verdict
    comment: Annotated[Text, Field(max_length=MAX_COMMENT_CHARS)] | None = None
    groups: Annotated[list[Group], Field(max_length=50, description="Groups of the asker, as for /v1/ask.")] = []

    @model_validator(mode="after")
    def _reason_matches_outcome(self) -> Self:
        if self.outcome in REFUSED and self.reason is None:
            raise ValueError(f"reason is required when outcome is {self.outcome.value}")
        if self.outcome not in REFUSED and self.reason is not None:
            raise ValueError(f"reason must be null when outcome is {self.outcome.value}")
        if self.outcome is RatedOutcome.REFUSED and self.reason is HumanDecision.INTERNAL_ONLY:
            raise ValueError("internal_only is a reply-draft decision, not a refusal reason of /v1/ask")
        return self


class FeedbackPublic(BaseModel):
    id: int
    created_at: datetime
    question: str
    answer: str | None
    cited_card_ids: list[str]
    outcome: RatedOutcome
    reason: str | None
    verdict: Verdict
    comment: str | None
    subject: str = Field(description="Who rated it, as the identity dependency resolved them.")
    groups: list[str]

    @classmethod
    def of(cls, stored: StoredFeedback) -> FeedbackPublic:
        f = stored.feedback
        return cls(
            id=stored.id,
            created_at=stored.created_at,
            question=f.question,
            answer=f.answer,
            cited_card_ids=list(f.cited_card_ids),
            outcome=f.outcome,
            reason=f.reason,
            verdict=f.verdict,
            comment=f.comment,
            subject=f.subject,
            groups=sorted(f.groups),
        )


class FeedbackListPublic(BaseModel):
    feedback: list[FeedbackPublic] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for the next page; null on the last page.")


@router.post("/feedback", status_code=201, response_model=FeedbackPublic, summary="Rate an answer or a reply draft")
async def add_feedback(body: FeedbackRequest, store: FeedbackStoreDep, caller: CallerDep) -> FeedbackPublic:
    asker = caller.asker(body.groups)  # the same identity rules as /v1/ask: a read key, or groups from a gateway
    feedback = NewFeedback(
        question=body.question,
        answer=body.answer or None,
        cited_card_ids=tuple(dict.fromkeys(body.cited_card_ids)),
        outcome=body.outcome,
        reason=body.reason.value if body.reason else None,
        verdict=body.verdict,
        comment=body.comment or None,
        subject=asker.subject,
        groups=asker.groups,
    )
    stored = await run_in_threadpool(store.add, feedback)
    return FeedbackPublic.of(stored)


@router.get("/feedback", response_model=FeedbackListPublic, summary="Stored ratings, newest first (write key)")
async def list_feedback(
    key: WriterDep,
    store: FeedbackStoreDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_FEEDBACK_ID, description="Only ratings with an id below this.")
    ] = None,
) -> FeedbackListPublic:
    if key.held is not None:  # ratings hold questions about any card: only a key of every card reads them
        raise VerityError(ErrorCode.FORBIDDEN, "listing ratings needs a write key of every card (no ':groups')")
    page = await run_in_threadpool(store.recent, limit + 1, before)
    items = [FeedbackPublic.of(s) for s in page[:limit]]
    return FeedbackListPublic(feedback=items, next_before=items[-1].id if len(page) > limit else None)
