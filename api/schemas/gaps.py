"""The gap inbox over HTTP: what Verity returns about questions it could not answer, and closing a gap."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictStr

from rag.domain.cards import ID_PATTERN
from rag.domain.events import GapClosure
from rag.domain.trust import TrustStatus
from rag.services.gaps.inbox import Gap, GapQuestion, GapStatus, NearCard


class GapQuestionPublic(BaseModel):
    question: str | None = Field(description="null when question text is not kept (VERITY_EVENTS_KEEP_TEXT).")
    language: str | None
    at: datetime

    @classmethod
    def of(cls, q: GapQuestion) -> GapQuestionPublic:
        return cls(question=q.question, language=q.language, at=q.at)


class NearCardPublic(BaseModel):
    """A card close to the gap that the reader may see, of any trust: its owner is whom to ask."""

    card_id: str
    title: str
    collection: str
    url: str | None
    owner: str | None
    verifier: str | None
    status: TrustStatus

    @classmethod
    def of(cls, c: NearCard) -> NearCardPublic:
        f = c.facts
        return cls(
            card_id=f.card_id,
            title=f.title,
            collection=f.collection,
            url=f.url,
            owner=f.owner,
            verifier=f.verifier,
            status=c.trust,
        )


class GapClosurePublic(BaseModel):
    card_id: str | None = Field(description="The card linked to the gap; null when the reader may not see it.")
    closed_at: datetime
    closed_by: str

    @classmethod
    def of(cls, c: GapClosure) -> GapClosurePublic:
        return cls(card_id=c.card_id or None, closed_at=c.at, closed_by=c.by)


class GapPublic(BaseModel):
    id: str = Field(description="Stable while the gap's oldest question is kept; what POST .../close takes.")
    status: GapStatus
    count: int = Field(description="Questions refused for want of any card (no_evidence) in the window.")
    askers: int = Field(description="Distinct askers among them.")
    first_seen: datetime
    last_seen: datetime
    languages: dict[str, int] = Field(description="Questions per detected language (und: not detected).")
    examples: list[GapQuestionPublic] = Field(description="Newest first, a few per language.")
    nearest_cards: list[NearCardPublic]
    closed: GapClosurePublic | None

    @classmethod
    def of(cls, g: Gap) -> GapPublic:
        return cls(
            id=g.id,
            status=g.status,
            count=g.count,
            askers=g.askers,
            first_seen=g.first_seen,
            last_seen=g.last_seen,
            languages=dict(g.languages),
            examples=[GapQuestionPublic.of(q) for q in g.examples],
            nearest_cards=[NearCardPublic.of(c) for c in g.nearest],
            closed=GapClosurePublic.of(g.closure) if g.closure else None,
        )


class GapsPublic(BaseModel):
    as_of: datetime
    window_days: int
    gaps: list[GapPublic] = Field(description="Most asked first; closed gaps last.")


class CloseGapRequest(BaseModel):
    card_id: Annotated[StrictStr, Field(pattern=ID_PATTERN, description="The card that now answers the gap.")]
