"""The gap inbox: questions Verity refused for want of any card (`no_evidence`), grouped into the knowledge
that is missing, ranked by demand in a window.

A gap's questions come from the event log (rag/services/events/); each refused ask or draft kept its
question's vector, so grouping embeds nothing again (rag/services/gaps/grouping.py). What a reader sees:
- only events that name no card (a `no_evidence` refusal names none), so no card the reader may not see
  can reach them through a gap, its count or its examples;
- the nearest cards to a gap, searched with the reader's own visibility, with their owners: whom to ask to
  write the card;
- never the askers' groups or subjects (a gap counts distinct askers, nothing more).

A gap is closed by linking the card that now answers it (`close`); the events it held identify it later.
A closed gap whose questions are refused again after it was closed is listed as reopened.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np

from rag.domain.clock import Clock
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.events import EventKind, EventOutcome, GapClosure, StoredEvent
from rag.domain.trust import TrustStatus, trust_status
from rag.domain.types import Asker, CardFacts, RefusalReason
from rag.ports import CardScan, RecordSearch, Scope, TrustFilter
from rag.ports.events import EventLog, GapClosures
from rag.retrieval.centering import LanguageCentroids, unit
from rag.services.gaps.grouping import GroupingPolicy, group_questions

GAP_KINDS = (EventKind.ASK, EventKind.DRAFT)


class GapStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # a card was linked, and no question was refused since
    REOPENED = "reopened"  # a card was linked, and questions were refused again after it


@dataclass(frozen=True, slots=True)
class GapQuestion:
    question: str | None  # None when question text is not kept (VERITY_EVENTS_KEEP_TEXT=false)
    language: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class NearCard:
    facts: CardFacts
    trust: TrustStatus


@dataclass(frozen=True, slots=True)
class Gap:
    id: str  # "g<n>": the gap's oldest event, stable while that event is kept
    status: GapStatus
    count: int  # refused questions in the window
    askers: int  # distinct askers among them
    first_seen: datetime
    last_seen: datetime
    languages: tuple[tuple[str, int], ...]  # most asked first
    examples: tuple[GapQuestion, ...]  # newest first, a few per language
    nearest: tuple[NearCard, ...]  # visible to the reader
    closure: GapClosure | None
    event_ids: frozenset[int] = field(repr=False, default=frozenset())


@dataclass(frozen=True, slots=True)
class GapPolicy:
    window: timedelta = timedelta(days=30)
    max_questions: int = 3000  # the newest refused questions in the window are grouped (O(n^2) memory)
    examples_per_language: int = 2
    nearest_cards: int = 3
    grouping: GroupingPolicy = field(default_factory=GroupingPolicy)


class GapInbox:
    def __init__(
        self,
        events: EventLog,
        closures: GapClosures,
        search: RecordSearch,
        cards: CardScan,
        centroids: LanguageCentroids,
        clock: Clock,
        policy: GapPolicy | None = None,
    ) -> None:
        self._events = events
        self._closures = closures
        self._search = search
        self._cards = cards
        self._centroids = centroids
        self._clock = clock
        self.policy = policy or GapPolicy()

    def now(self) -> datetime:
        return self._clock.now()

    def gaps(self, reader: Asker, window: timedelta | None = None, limit: int = 20) -> list[Gap]:
        """The reader's gap inbox: most demanded first. Only the gaps shown search their nearest cards."""
        now = self._clock.now()
        groups = {_gap_id(members): members for members in self._window_groups(window, now)}
        closures = self._closures.gap_closures()
        ranked = sorted((self._gap(members, closures) for members in groups.values()), key=_demand)
        return [self._shown(gap, groups[gap.id], reader, now) for gap in ranked[:limit]]

    def close(
        self, gap_id: str, card_id: str, closer: Asker, window: timedelta | None = None, every_card: bool = False
    ) -> GapClosure:
        """Link the card that now answers the gap. The card must be one the closer may see (`every_card`: a
        write key of every card), else the same NOT_FOUND as for a missing card."""
        now = self._clock.now()
        card = self._cards.get_card(card_id) if every_card else self._cards.get_visible_card(card_id, closer)
        if card is None:
            raise VerityError(ErrorCode.NOT_FOUND, f"no card {card_id!r}")
        members = next((m for m in self._window_groups(window, now) if _gap_id(m) == gap_id), None)
        if members is None:
            raise VerityError(ErrorCode.NOT_FOUND, f"no gap {gap_id!r} in the window")
        closure = GapClosure(frozenset(m.id for m in members), card_id, now, closer.subject)
        self._closures.close_gap(closure)
        return closure

    def _window_groups(self, window: timedelta | None, now: datetime) -> list[list[StoredEvent]]:
        start = now - (window or self.policy.window)
        return self._group(self._refused(start, now + timedelta(microseconds=1)))

    def _refused(self, start: datetime, end: datetime) -> list[StoredEvent]:
        events = [
            s
            for s in self._events.between(start, end, kinds=GAP_KINDS)
            if s.event.outcome is EventOutcome.REFUSED
            and s.event.reason is RefusalReason.NO_EVIDENCE
            and not s.event.cards  # names no card: nothing in it can be hidden from a reader
            and s.event.vector is not None
        ]
        return events[-self.policy.max_questions :]

    def _group(self, events: list[StoredEvent]) -> list[list[StoredEvent]]:
        if not events:
            return []
        raw = np.array([s.event.vector for s in events], dtype=np.float32)
        languages = [s.event.language for s in events]
        centred = np.stack([self._centroids.prepare_query(v, x).centred for v, x in zip(raw, languages, strict=True)])
        labels = group_questions(unit(centred), languages, self.policy.grouping)
        groups: dict[int, list[StoredEvent]] = {}
        for label, stored in zip(labels, events, strict=True):
            groups.setdefault(label, []).append(stored)
        return list(groups.values())

    def _gap(self, members: list[StoredEvent], closures: list[GapClosure]) -> Gap:
        """The gap as counted, without what depends on the reader (its nearest cards, its closure's card)."""
        ids = frozenset(s.id for s in members)
        times = [s.event.at for s in members]
        closure = next((c for c in reversed(closures) if c.event_ids & ids), None)
        status = GapStatus.OPEN
        if closure is not None:
            status = GapStatus.REOPENED if max(times) > closure.at else GapStatus.CLOSED
        counts = Counter(s.event.language or "und" for s in members)
        return Gap(
            id=_gap_id(members),
            status=status,
            count=len(members),
            askers=len({s.event.subject for s in members}),
            first_seen=min(times),
            last_seen=max(times),
            languages=tuple(counts.most_common()),
            examples=self._examples(members),
            nearest=(),
            closure=closure,
            event_ids=ids,
        )

    def _shown(self, gap: Gap, members: list[StoredEvent], reader: Asker, now: datetime) -> Gap:
        """The gap as `reader` sees it: the nearest cards they may see, and no id of a hidden closing card."""
        closure = gap.closure
        if closure is not None and self._cards.get_visible_card(closure.card_id, reader) is None:
            closure = replace(closure, card_id="")
        return replace(gap, nearest=self._nearest(members, reader, now), closure=closure)

    def _examples(self, members: list[StoredEvent]) -> tuple[GapQuestion, ...]:
        shown: Counter[str | None] = Counter()
        chosen = []
        for s in sorted(members, key=lambda m: m.event.at, reverse=True):
            if shown[s.event.language] < self.policy.examples_per_language:
                shown[s.event.language] += 1
                chosen.append(GapQuestion(s.event.question, s.event.language, s.event.at))
        return tuple(chosen)

    def _nearest(self, members: list[StoredEvent], reader: Asker, now: datetime) -> tuple[NearCard, ...]:
        """The cards closest to the gap's questions that the reader may see, of any trust: their owners and
        verifiers are whom to ask."""
        if self.policy.nearest_cards < 1:
            return ()
        mean = unit(np.mean(np.array([s.event.vector for s in members], dtype=np.float32), axis=0))
        epoch = int(now.timestamp())
        hits = self._search.query(mean, Scope(reader, epoch, TrustFilter.ANY), 4 * self.policy.nearest_cards)
        cards: dict[str, NearCard] = {}
        for hit in hits:
            if hit.facts.card_id not in cards and len(cards) < self.policy.nearest_cards:
                trust = trust_status(hit.facts.state, hit.facts.verified_until_epoch, now)
                cards[hit.facts.card_id] = NearCard(hit.facts, trust)
        return tuple(cards.values())


def _gap_id(members: list[StoredEvent]) -> str:
    return f"g{min(s.id for s in members)}"


def _demand(gap: Gap) -> tuple[bool, int, float]:
    """Open and reopened gaps first, then the most asked, then the most recent."""
    return (gap.status is GapStatus.CLOSED, -gap.count, -gap.last_seen.timestamp())
