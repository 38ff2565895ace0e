"""What Verity returns when it checks a reply: each sentence, the cards that support it, and a summary."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.shared import timings
from rag.answering.checking import CheckedCard, CheckResult, SentenceCheck


class CheckedCardPublic(BaseModel):
    card_id: str
    title: str
    url: str | None
    collection: str
    verifier: str | None
    verified_at: datetime | None
    verified_until: datetime | None = Field(description="null: the card does not expire.")
    internal_only: bool = Field(description="Internal note: it supports the sentence for you, never for a customer.")
    quotable_to_customer: bool = Field(
        description="The card may back a sentence sent to a customer (not internal_only)."
    )
    evidence: list[str] = Field(
        description="The card's exact words that support the sentence (empty when the sentence is not supported)."
    )

    @classmethod
    def of(cls, c: CheckedCard) -> CheckedCardPublic:
        return cls(
            card_id=c.card_id,
            title=c.title,
            url=c.url,
            collection=c.collection,
            verifier=c.verifier,
            verified_at=c.verified_at,
            verified_until=c.verified_until,
            internal_only=c.internal_only,
            quotable_to_customer=c.quotable_to_customer,
            evidence=list(c.evidence),
        )


class SentenceCheckPublic(BaseModel):
    text: str = Field(description="The sentence as written.")
    status: Literal["supported", "not_supported", "not_covered"] = Field(
        description="supported: verified cards say it (`cards`, with their words); not_supported: verified cards "
        "cover its topic but do not say it (`reason`, `detail`, and the cards it was checked against); "
        "not_covered: no verified card you may see is about it."
    )
    reason: str | None = Field(
        description="not_supported only: why, as the citation guard's code, e.g. unsupported_fact (a number or "
        "identifier the cards do not state), unsupported (no card sentence says this) or negation_mismatch. "
        "New codes may be added."
    )
    detail: str = Field(description="not_supported only: the guard's explanation, in words.")
    quotable_to_customer: bool = Field(
        description="Supported by at least one card that is not an internal note: fit to send to a customer."
    )
    cards: list[CheckedCardPublic] = Field(
        description="supported: the cards that support it; not_supported: the closest verified cards it was "
        "checked against; not_covered: empty."
    )

    @classmethod
    def of(cls, s: SentenceCheck) -> SentenceCheckPublic:
        return cls(
            text=s.text,
            status=s.status.value,
            reason=s.reason.value if s.reason is not None else None,
            detail=s.detail,
            quotable_to_customer=s.quotable_to_customer,
            cards=[CheckedCardPublic.of(c) for c in s.cards],
        )


class CheckSummaryPublic(BaseModel):
    sentences: int
    supported: int
    not_supported: int
    not_covered: int
    quotable: bool = Field(description="Every sentence is supported by a verified card that is not an internal note.")


class CheckPublic(BaseModel):
    sentences: list[SentenceCheckPublic]
    summary: CheckSummaryPublic
    as_of: datetime = Field(description="The instant the verification gate was evaluated at.")
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, result: CheckResult) -> CheckPublic:
        s = result.summary
        return cls(
            sentences=[SentenceCheckPublic.of(sentence) for sentence in result.sentences],
            summary=CheckSummaryPublic(
                sentences=s.sentences,
                supported=s.supported,
                not_supported=s.not_supported,
                not_covered=s.not_covered,
                quotable=s.quotable,
            ),
            as_of=result.as_of,
            timings_ms=timings(result.timings_ms),
        )
