"""Pieces of several schemas: group names, the two scores of a card, and what both an answer and a reply draft
return (the cited cards, the sentences the citation guard dropped, rounded timings)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from rag.domain.cards import GROUP_PATTERN
from rag.domain.types import Citation, DroppedSentence, GuardProblem

Group = Annotated[str, StringConstraints(pattern=GROUP_PATTERN)]

RankScore = Annotated[
    float, Field(description="Ranking score (cards are ordered by it); not comparable across questions.")
]
Relevance = Annotated[
    float,
    Field(
        description="Confidence (0-1) that the card answers the question: what /v1/ask compares with its bar "
        "(VERITY_ANSWER_CONFIDENCE) to answer or refuse. Means the same on every knowledge base."
    ),
]
# the ranking score's old name, kept for one release (CHANGELOG, Deprecated)
DeprecatedScore = Annotated[
    float, Field(deprecated=True, description="Deprecated alias of rank_score; removed in the next release.")
]


def timings(values: Mapping[str, float]) -> dict[str, float]:
    """Milliseconds per step, to two decimals."""
    return {k: round(v, 2) for k, v in values.items()}


class CitationPublic(BaseModel):
    marker: int
    card_id: str
    title: str
    url: str | None
    collection: str
    verifier: str | None
    verified_at: datetime | None
    verified_until: datetime | None = Field(description="null: the card does not expire.")
    snippet: str = Field(description="The card's words quoted in the answer.")
    rank_score: RankScore
    relevance: Relevance
    score: DeprecatedScore
    internal_only: bool = Field(description="Internal note: never quote it to a customer.")

    @classmethod
    def of(cls, c: Citation) -> CitationPublic:
        return cls(
            marker=c.marker,
            card_id=c.card_id,
            title=c.title,
            url=c.url,
            collection=c.collection,
            verifier=c.verifier,
            verified_at=c.verified_at,
            verified_until=c.verified_until,
            snippet=c.snippet,
            rank_score=c.rank_score,
            relevance=c.relevance,
            score=c.rank_score,
            internal_only=c.internal_only,
        )


class DroppedPublic(BaseModel):
    text: str = Field(description="A generated sentence the citation guard rejected; never part of the answer.")
    problem: str = Field(
        description=f"The citation guard's code: {', '.join(p.value for p in GuardProblem)}. New codes may be added."
    )
    detail: str

    @classmethod
    def of(cls, d: DroppedSentence) -> DroppedPublic:
        return cls(text=d.text, problem=d.problem.value, detail=d.detail)
