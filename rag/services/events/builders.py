"""What each use records: pure functions from a result to its `Event` (rag/domain/events.py).

The question's vector is kept only where the gap inbox reads it (refused asks and drafts); cards are named
by id and role. Search: the verified hits are its cited cards and the untrusted ones its candidates; it is
"refused" when no verified card was found. Check: the cards that supported a sentence; "refused" when a
sentence is not supported or not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rag.answering.checking import CheckResult, CheckStatus
from rag.domain.events import CardRole, Channel, Event, EventCard, EventKind, EventOutcome
from rag.domain.trust import TrustStatus
from rag.domain.types import Asker, AskResult, RefusalReason, SearchResult
from rag.domain.vectors import Vectors
from rag.services.drafts import Draft, HumanDecision


@dataclass(frozen=True, slots=True)
class Context:
    """Who asked, how, and what the question was (its detected language and, for gaps, its vector)."""

    asker: Asker
    channel: Channel
    question: str
    language: str | None
    vector: Vectors | None


def _event(
    ctx: Context,
    at: datetime,
    kind: EventKind,
    outcome: EventOutcome,
    reason: RefusalReason | None,
    cards: tuple[EventCard, ...],
) -> Event:
    keep_vector = outcome is EventOutcome.REFUSED and kind in (EventKind.ASK, EventKind.DRAFT)
    vector = tuple(float(x) for x in ctx.vector) if keep_vector and ctx.vector is not None else None
    return Event(
        at=at,
        kind=kind,
        channel=ctx.channel,
        outcome=outcome,
        reason=reason,
        language=ctx.language,
        cards=cards,
        groups=ctx.asker.groups,
        subject=ctx.asker.subject,
        question=ctx.question,
        vector=vector,
    )


def ask_event(ctx: Context, result: AskResult) -> Event:
    if result.answer is not None:
        cited = tuple(EventCard(c.card_id, CardRole.CITED) for c in result.answer.citations)
        return _event(ctx, result.as_of, EventKind.ASK, EventOutcome.ANSWERED, None, cited)
    assert result.refusal is not None
    named = tuple(EventCard(c.card_id, CardRole.CANDIDATE) for c in result.refusal.candidates)
    return _event(ctx, result.as_of, EventKind.ASK, EventOutcome.REFUSED, result.refusal.reason, named)


def draft_event(ctx: Context, at: datetime, draft: Draft) -> Event:
    cited = tuple(EventCard(c.card_id, CardRole.CITED) for c in draft.cards)
    need = draft.needs_human
    if need is None or need.reason is HumanDecision.INTERNAL_ONLY:  # internal notes answer the agent: no gap
        notes = tuple(EventCard(c.card_id, CardRole.CITED) for c in need.cards) if need else ()
        return _event(ctx, at, EventKind.DRAFT, EventOutcome.ANSWERED, None, cited + notes)
    named = tuple(EventCard(c.card_id, CardRole.CANDIDATE) for c in need.cards)
    reason = RefusalReason(need.reason.value)
    return _event(ctx, at, EventKind.DRAFT, EventOutcome.REFUSED, reason, cited + named)


def search_event(ctx: Context, result: SearchResult) -> Event:
    cards = tuple(
        EventCard(h.facts.card_id, CardRole.CITED if h.trust is TrustStatus.VERIFIED else CardRole.CANDIDATE)
        for h in result.hits
    )
    found = any(c.role is CardRole.CITED for c in cards)
    outcome = EventOutcome.ANSWERED if found else EventOutcome.REFUSED
    return _event(ctx, result.as_of, EventKind.SEARCH, outcome, None, cards)


def check_event(ctx: Context, result: CheckResult) -> Event:
    supported = all(s.status is CheckStatus.SUPPORTED for s in result.sentences)
    cards = tuple(
        dict.fromkeys(
            EventCard(c.card_id, CardRole.CITED)
            for s in result.sentences
            if s.status is CheckStatus.SUPPORTED
            for c in s.cards
        )
    )
    outcome = EventOutcome.ANSWERED if supported else EventOutcome.REFUSED
    return _event(ctx, result.as_of, EventKind.CHECK, outcome, None, cards)
