"""What Verity returns to a question, a search and a reply-draft request."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.shared import CitationPublic, DeprecatedScore, DroppedPublic, RankScore, Relevance, timings
from rag.domain.trust import TrustStatus, epoch_to_datetime
from rag.domain.types import AskResult, Candidate, RefusalReason, SearchResult
from rag.services.drafts import Draft, HumanDecision


class CandidatePublic(BaseModel):
    card_id: str
    title: str
    status: TrustStatus
    owner: str | None
    verifier: str | None
    verified_at: datetime | None
    verified_until: datetime | None
    url: str | None
    rank_score: RankScore
    relevance: Relevance
    score: DeprecatedScore

    @classmethod
    def of(cls, c: Candidate) -> CandidatePublic:
        return cls(
            card_id=c.card_id,
            title=c.title,
            status=c.status,
            owner=c.owner,
            verifier=c.verifier,
            verified_at=c.verified_at,
            verified_until=c.verified_until,
            url=c.url,
            rank_score=c.rank_score,
            relevance=c.relevance,
            score=c.rank_score,
        )


class RefusalPublic(BaseModel):
    reason: RefusalReason
    message: str
    candidates: list[CandidatePublic] = Field(description="Unverified or expired cards that looked relevant.")


class AskPublic(BaseModel):
    outcome: Literal["answered", "refused"]
    question: str
    answer: str | None = Field(
        description="Sentences from verified cards, each followed by [n]: quoted verbatim (extractive) or "
        "generated and checked by the citation guard (LLM answerer)."
    )
    citations: list[CitationPublic]
    refusal: RefusalPublic | None
    as_of: datetime = Field(description="The instant the verification gate was evaluated at.")
    timings_ms: dict[str, float]
    dropped: list[DroppedPublic] = Field(
        default_factory=list, description="Generated sentences the citation guard removed (LLM answerer only)."
    )

    @classmethod
    def of(cls, result: AskResult) -> AskPublic:
        refusal = result.refusal
        dropped = result.answer.dropped if result.answer else refusal.dropped if refusal else ()
        return cls(
            outcome="answered" if result.answer else "refused",
            question=result.question,
            answer=result.answer.text if result.answer else None,
            citations=[CitationPublic.of(c) for c in result.answer.citations] if result.answer else [],
            refusal=RefusalPublic(
                reason=refusal.reason,
                message=refusal.message,
                candidates=[CandidatePublic.of(c) for c in refusal.candidates],
            )
            if refusal
            else None,
            as_of=result.as_of,
            timings_ms=timings(result.timings_ms),
            dropped=[DroppedPublic.of(d) for d in dropped],
        )


class TrustPublic(BaseModel):
    status: TrustStatus
    owner: str | None
    verifier: str | None
    verified_at: datetime | None
    verified_until: datetime | None


class SearchHitPublic(BaseModel):
    card_id: str
    title: str
    collection: str
    url: str | None
    language: str | None
    rank_score: RankScore
    relevance: Relevance
    score: DeprecatedScore
    trust: TrustPublic
    internal_only: bool
    snippet: str | None = Field(description="Only for cards verified now; null for unverified or expired cards.")


class SearchPublic(BaseModel):
    query: str
    as_of: datetime
    results: list[SearchHitPublic]

    @classmethod
    def of(cls, result: SearchResult) -> SearchPublic:
        return cls(
            query=result.query,
            as_of=result.as_of,
            results=[
                SearchHitPublic(
                    card_id=h.facts.card_id,
                    title=h.facts.title,
                    collection=h.facts.collection,
                    url=h.facts.url,
                    language=h.facts.language,
                    rank_score=h.rank_score,
                    relevance=h.relevance,
                    score=h.rank_score,
                    trust=TrustPublic(
                        status=h.trust,
                        owner=h.facts.owner,
                        verifier=h.facts.verifier,
                        verified_at=h.facts.verified_at,
                        verified_until=epoch_to_datetime(h.facts.verified_until_epoch),
                    ),
                    internal_only=h.facts.internal_only,
                    snippet=h.snippet,
                )
                for h in result.hits
            ],
        )


class CardRefPublic(BaseModel):
    card_id: str
    title: str
    collection: str
    url: str | None
    owner: str | None
    verifier: str | None
    status: TrustStatus


class NeedsHumanPublic(BaseModel):
    reason: HumanDecision = Field(description="no_evidence, only_unverified, only_expired or internal_only.")
    message: str = Field(description="What the agent must decide before replying, and why.")
    cards: list[CardRefPublic] = Field(description="Whom to ask: unverified or expired candidates, or internal notes.")


class DraftPublic(BaseModel):
    outcome: Literal["drafted", "needs_human"]
    language: str = Field(description="The customer's language, detected from the message (en, tr, vi, pt, uk).")
    reply: str = Field(
        description="For the customer: greeting, verified facts without citation markers, closing. When a human "
        "must decide first, a holding reply that promises nothing."
    )
    cards: list[CitationPublic] = Field(description="For the agent: the verified cards the reply rests on.")
    needs_human: NeedsHumanPublic | None
    dropped: list[DroppedPublic] = Field(description="Generated sentences the citation guard removed (LLM mode).")
    notes: list[str] = Field(description="For the agent: what to check before sending.")
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, draft: Draft) -> DraftPublic:
        needs = draft.needs_human
        return cls(
            outcome="needs_human" if needs else "drafted",
            language=draft.language,
            reply=draft.reply,
            cards=[CitationPublic.of(c) for c in draft.cards],
            needs_human=NeedsHumanPublic(
                reason=needs.reason,
                message=needs.message,
                cards=[CardRefPublic(**{f: getattr(r, f) for f in CardRefPublic.model_fields}) for r in needs.cards],
            )
            if needs
            else None,
            dropped=[DroppedPublic.of(d) for d in draft.dropped],
            notes=list(draft.notes),
            timings_ms=timings(draft.timings_ms),
        )
