"""Request and response schemas, one per direction, and their conversion from core types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from rag.answering.checking import CheckedCard, CheckResult, SentenceCheck
from rag.answering.guard.core import GuardProblem
from rag.domain.cards import GROUP_PATTERN, JSON_INTEGER, NOT_BLANK, Card
from rag.domain.trust import TrustStatus, epoch_to_datetime
from rag.domain.types import AskResult, Candidate, Citation, RefusalReason, SearchResult
from rag.ports import WriteOutcome
from rag.services.catalog import CardView, CollectionTrust
from rag.services.drafts import Draft, HumanDecision

Group = Annotated[str, StringConstraints(pattern=GROUP_PATTERN)]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, Field(min_length=1, pattern=NOT_BLANK, description="The question, in any language.")]
    groups: Annotated[
        list[Group], Field(max_length=50, description="Groups of the asker (from a trusted gateway).")
    ] = []
    top_k: (
        Annotated[int, Field(ge=1, le=50, description="Cards to retrieve (default from settings)."), JSON_INTEGER]
        | None
    ) = None
    stream: StrictBool = Field(
        default=False,
        description="Answer as server-sent events: `text` (each sentence once it passed the guard), `dropped` "
        "(each sentence the guard removed), then `result` (the whole response, as without streaming), or "
        "`error` (a problem object). Closing the connection stops generation.",
    )


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(min_length=1, pattern=NOT_BLANK, description="Search text, in any language.")]
    groups: Annotated[list[Group], Field(max_length=50)] = []
    top_k: Annotated[int, Field(ge=1, le=50), JSON_INTEGER] | None = None


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
    score: float
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
            score=c.score,
            internal_only=c.internal_only,
        )


class CandidatePublic(BaseModel):
    card_id: str
    title: str
    status: TrustStatus
    owner: str | None
    verifier: str | None
    verified_at: datetime | None
    verified_until: datetime | None
    url: str | None
    score: float

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
            score=c.score,
        )


class RefusalPublic(BaseModel):
    reason: RefusalReason
    message: str
    candidates: list[CandidatePublic] = Field(description="Unverified or expired cards that looked relevant.")


class DroppedPublic(BaseModel):
    text: str = Field(description="A generated sentence the citation guard rejected; never part of the answer.")
    problem: str = Field(
        description=f"The citation guard's code: {', '.join(p.value for p in GuardProblem)}. New codes may be added."
    )
    detail: str


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
            timings_ms={k: round(v, 2) for k, v in result.timings_ms.items()},
            dropped=[DroppedPublic(text=d.text, problem=d.problem, detail=d.detail) for d in dropped],
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
    score: float = Field(description="Ranking score (results are ordered by it); not comparable across questions.")
    relevance: float = Field(
        description="Confidence (0-1) that the card answers the question: what /v1/ask compares with its bar "
        "(VERITY_ANSWER_CONFIDENCE) to answer or refuse. Means the same on every knowledge base."
    )
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
                    score=h.score,
                    relevance=h.relevance,
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


class HealthPublic(BaseModel):
    status: Literal["ok"]
    embedder: str
    store: Literal["embedded", "server"]
    answerer: str


class CardPublic(BaseModel):
    """A card with its trust facts as of now."""

    card: Card
    status: TrustStatus
    verified_until: datetime | None = Field(description="null: never expires, or never verified.")
    language: str | None = Field(
        None,
        description="The card's language as Verity scores it: the card's own `language`, else the one detected "
        "from its text (null: too little text to tell).",
    )

    @classmethod
    def of(cls, view: CardView) -> CardPublic:
        return cls(card=view.card, status=view.status, verified_until=view.verified_until, language=view.language)


class CardSummaryPublic(BaseModel):
    id: str
    title: str
    collection: str
    owner: str | None
    verifier: str | None
    status: TrustStatus
    verified_at: datetime | None
    verified_until: datetime | None
    url: str | None
    internal_only: bool

    @classmethod
    def of(cls, view: CardView) -> CardSummaryPublic:
        card = view.card
        return cls(
            id=card.id,
            title=card.title,
            collection=card.collection,
            owner=card.owner,
            verifier=card.verifier,
            status=view.status,
            verified_at=card.verified_at,
            verified_until=view.verified_until,
            url=card.url,
            internal_only=card.internal_only,
        )


class CardListPublic(BaseModel):
    cards: list[CardSummaryPublic]


class CardWritePublic(BaseModel):
    outcome: WriteOutcome
    card: CardPublic


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verifier: Annotated[
        str, Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="Who verified the card.")
    ]
    verify_interval_days: Annotated[int, Field(gt=0, le=36_500), JSON_INTEGER] | None = Field(
        None, description="A new interval; the card keeps its own when omitted."
    )


class CollectionTrustPublic(BaseModel):
    collection: str
    cards: int
    verified: int
    expired: int
    unverified: int
    trust_score: float = Field(description="Share of the collection's cards verified now (0..1).")

    @classmethod
    def of(cls, trust: CollectionTrust) -> CollectionTrustPublic:
        return cls(
            collection=trust.collection,
            cards=trust.cards,
            verified=trust.verified,
            expired=trust.expired,
            unverified=trust.unverified,
            trust_score=round(trust.trust_score, 4),
        )


class CollectionsPublic(BaseModel):
    collections: list[CollectionTrustPublic]


class DraftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[
        str, Field(min_length=1, pattern=NOT_BLANK, description="The customer's message, in any language.")
    ]
    context: Annotated[
        str | None,
        Field(description="Ticket context for the model (product, plan, history); never quoted to the customer."),
    ] = None
    groups: Annotated[
        list[Group], Field(max_length=50, description="Groups of the agent (from a trusted gateway).")
    ] = []
    top_k: Annotated[int, Field(ge=1, le=50), JSON_INTEGER] | None = None


class CardRefPublic(BaseModel):
    card_id: str
    title: str
    collection: str
    url: str | None
    owner: str | None
    verifier: str | None
    status: str


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
            dropped=[DroppedPublic(text=d.text, problem=d.problem, detail=d.detail) for d in draft.dropped],
            notes=list(draft.notes),
            timings_ms={k: round(v, 2) for k, v in draft.timings_ms.items()},
        )


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str,
        Field(
            min_length=1,
            pattern=NOT_BLANK,
            description="The reply to check, as written, in any language. `[n]` markers in it are ignored: they "
            "refer to nothing Verity knows.",
        ),
    ]
    groups: Annotated[
        list[Group], Field(max_length=50, description="Groups of the agent (from a trusted gateway).")
    ] = []
    top_k: (
        Annotated[
            int, Field(ge=1, le=50, description="Cards to retrieve per sentence (default from settings)."), JSON_INTEGER
        ]
        | None
    ) = None


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
            reason=s.reason,
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
            timings_ms={k: round(v, 2) for k, v in result.timings_ms.items()},
        )
