"""Builders of domain values for tests: a valid card with any field overridden, and the facts a store keeps."""

from __future__ import annotations

from rag.domain.cards import Card
from rag.domain.trust import until_epoch
from rag.domain.types import CardFacts
from rag.ports import CardVersion


def make_card(**overrides: object) -> Card:
    fields: dict[str, object] = {
        "id": "card-1",
        "title": "Refunds for Pro Annual plans",
        "body": "Pro Annual plans can be refunded in full within 30 days of purchase.",
        "collection": "billing",
        "owner": "owner@orbita.example",
        "verifier": "verifier@orbita.example",
        "state": "verified",
        "verified_at": "2026-11-01T00:00:00Z",
        "verify_interval_days": 90,
        "url": "https://kb.orbita.example/cards/card-1",
        "language": "en",
    }
    fields.update(overrides)
    if fields.get("state") == "unverified" and "verified_at" not in overrides:
        fields["verified_at"] = None
    return Card.model_validate(fields)


def facts_of(card: Card, version: CardVersion, language: str | None = None) -> CardFacts:
    return CardFacts(
        card_id=card.id,
        title=card.title,
        collection=card.collection,
        url=card.url,
        owner=card.owner or None,  # the store keeps no empty text (as the Chroma adapter)
        verifier=card.verifier or None,
        state=card.state,
        # the store keeps the verification instant to the second (as the Chroma adapter's metadata)
        verified_at=card.verified_at.replace(microsecond=0) if card.verified_at else None,
        verified_until_epoch=until_epoch(card.state, card.verified_at, card.verified_until),
        language=language or card.language,
        internal_only=card.internal_only,
        groups=card.groups,
        content_hash=version.content_hash,
        meta_hash=version.meta_hash,
    )
