"""What Verity returns about its cards: one card, lists, writes, collection trust scores, and its own health."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from rag.domain.cards import Card
from rag.domain.trust import TrustStatus
from rag.ports import WriteOutcome
from rag.services.catalog import CardView, CollectionTrust


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


class HealthPublic(BaseModel):
    status: Literal["ok"]
    embedder: str
    store: Literal["embedded", "server"]
    answerer: str
