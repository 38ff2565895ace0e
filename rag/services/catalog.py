"""The card catalog: read cards with their trust facts, change verification, delete; visibility applies.

A card the asker may not see is reported exactly like a card that does not exist (None / not found),
and is never counted in a trust score. Reading one card leaves visibility to the store query
(`CardScan.get_visible_card`), so a hidden card also takes as long to refuse as a missing one.
Writers bound to groups follow the same rule: a card they may not see is, to them, missing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from rag.domain.cards import Card, CardState
from rag.domain.clock import Clock
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.trust import TrustStatus, trust_status, until_epoch
from rag.domain.types import Asker
from rag.ports import CardWriter, CatalogStore, LanguageDetector, WriteOutcome
from rag.retrieval.languages import card_language


@dataclass(frozen=True, slots=True)
class CardView:
    card: Card
    status: TrustStatus
    verified_until: datetime | None
    language: str | None = None  # the card's own `language`, else the one Verity detects from its text


@dataclass(frozen=True, slots=True)
class CollectionTrust:
    collection: str
    cards: int
    verified: int
    expired: int
    unverified: int

    @property
    def trust_score(self) -> float:
        """Share of the collection's cards that are verified now."""
        return self.verified / self.cards if self.cards else 0.0


def visible(card: Card, asker: Asker) -> bool:
    return asker.may_see(card.groups)


@dataclass(frozen=True, slots=True)
class Writer:
    """Who changes cards. `groups` None: every card (a write key of the comma-separated form); else only the
    cards an asker with these groups sees (none: cards open to everyone). Writing a card *into* groups the
    writer does not hold is refused before the catalog is called (api/http/auth.py: 403)."""

    groups: frozenset[str] | None

    def sees(self, card: Card) -> bool:
        return self.groups is None or visible(card, Asker(groups=self.groups))


def not_found(card_id: str) -> VerityError:
    """The one answer for a card that does not exist and for one the caller may not see."""
    return VerityError(ErrorCode.NOT_FOUND, f"no card {card_id!r}")


class Catalog:
    def __init__(
        self, index: CatalogStore, writer: CardWriter, clock: Clock, languages: LanguageDetector | None = None
    ) -> None:
        self._index = index
        self._writer = writer
        self._clock = clock
        self._languages = languages  # the same detector ingest uses, so a card reads the language it was stored with

    def view(self, card: Card) -> CardView:
        epoch = until_epoch(card.state, card.verified_at, card.verified_until)
        status = trust_status(card.state, epoch, self._clock.now())
        return CardView(card, status, card.verified_until, card_language(card, self._languages))

    def get(self, card_id: str, asker: Asker) -> CardView | None:
        card = self._index.get_visible_card(card_id, asker)
        return self.view(card) if card is not None else None

    def find(
        self,
        asker: Asker,
        collection: str | None = None,
        status: TrustStatus | None = None,
        expiring_within_days: int | None = None,
    ) -> list[CardView]:
        horizon = self._clock.now() + timedelta(days=expiring_within_days) if expiring_within_days is not None else None
        views = []
        for card in self._index.list_cards(collection):
            if not visible(card, asker):
                continue
            view = self.view(card)
            if status is not None and view.status is not status:
                continue
            if horizon is not None and not (
                view.status is TrustStatus.VERIFIED
                and view.verified_until is not None
                and view.verified_until <= horizon
            ):
                continue
            views.append(view)
        return sorted(views, key=lambda v: (v.card.collection, v.card.id))

    def trust_scores(self, asker: Asker) -> list[CollectionTrust]:
        counts: dict[str, dict[TrustStatus, int]] = defaultdict(lambda: dict.fromkeys(TrustStatus, 0))
        for view in self.find(asker):
            counts[view.card.collection][view.status] += 1
        return [
            CollectionTrust(
                collection=name,
                cards=sum(by_status.values()),
                verified=by_status[TrustStatus.VERIFIED],
                expired=by_status[TrustStatus.EXPIRED],
                unverified=by_status[TrustStatus.UNVERIFIED],
            )
            for name, by_status in sorted(counts.items())
        ]

    def _writable(self, card_id: str, writer: Writer) -> Card | None:
        """The stored card if `writer` may change it; None when it is missing or hidden from the writer."""
        if writer.groups is None:
            return self._index.get_card(card_id)
        return self._index.get_visible_card(card_id, Asker(groups=writer.groups))

    def _existing(self, card_id: str, writer: Writer) -> Card:
        card = self._writable(card_id, writer)
        if card is None:
            raise not_found(card_id)
        return card

    def put(self, card: Card, writer: Writer) -> WriteOutcome:
        """Add `card`, or replace the stored card of its id. Replacing a card the writer may not see is refused
        as not found, exactly as any other write to it (a missing id is added instead: ids are one namespace)."""
        if writer.groups is not None:
            stored = self._index.get_card(card.id)
            if stored is not None and not writer.sees(stored):
                raise not_found(card.id)
        return self._writer.write(card)

    def delete(self, card_id: str, writer: Writer) -> None:
        """Delete a card and every record of it; not found when missing or hidden from the writer."""
        self._existing(card_id, writer)
        self._index.delete_card(card_id)

    def verify(self, card_id: str, verifier: str, writer: Writer, interval_days: int | None = None) -> CardView:
        """Verified by `verifier` now; the interval stays unless a new one is given."""
        card = self._existing(card_id, writer)
        changes: dict[str, object] = {
            "state": CardState.VERIFIED,
            "verifier": verifier,
            "verified_at": self._clock.now(),
            "next_verification_at": None,
        }
        if interval_days is not None:
            changes["verify_interval_days"] = interval_days
        updated = Card.model_validate({**card.model_dump(), **changes})
        self._writer.write(updated)
        return self.view(updated)

    def unverify(self, card_id: str, writer: Writer) -> CardView:
        card = self._existing(card_id, writer)
        updated = Card.model_validate({**card.model_dump(), "state": CardState.UNVERIFIED})
        self._writer.write(updated)
        return self.view(updated)
