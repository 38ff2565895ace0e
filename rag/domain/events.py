"""What happened when someone asked: the record the knowledge team's views (gap inbox, verification queue) read.

An event names cards by id, with the part they played (cited in an answer, or named as an untrusted
candidate in a refusal). It never holds an answer's text: only the question, and only when the operator
keeps question text (`VERITY_EVENTS_KEEP_TEXT`). Whoever reads events back filters them by what the
reader may see *then* (a card's groups can change after the event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from rag.domain.types import RefusalReason


class EventKind(StrEnum):
    ASK = "ask"  # /v1/ask, the web page, MCP `ask`
    DRAFT = "draft"  # a reply draft
    SEARCH = "search"
    CHECK = "check"  # checking an agent's own reply


class Channel(StrEnum):
    HTTP = "http"
    MCP = "mcp"


class EventOutcome(StrEnum):
    ANSWERED = "answered"  # search: at least one verified card returned; check: every sentence supported
    REFUSED = "refused"  # search: no verified card; check: a sentence not supported or not covered


class CardRole(StrEnum):
    CITED = "cited"  # backed the answer (or the search hit, or the checked sentence)
    CANDIDATE = "candidate"  # unverified or expired, looked relevant, named in the refusal


@dataclass(frozen=True, slots=True)
class EventCard:
    card_id: str
    role: CardRole


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    kind: EventKind
    channel: Channel
    outcome: EventOutcome
    reason: RefusalReason | None  # refusals of ask and draft
    language: str | None  # the question's detected language
    cards: tuple[EventCard, ...]
    groups: frozenset[str]  # the asker's
    subject: str  # the key's subject (a hash, never the key)
    question: str | None  # None when question text is not kept
    vector: tuple[float, ...] | None = None  # the question's embedding: gaps group questions by it

    def card_ids(self, role: CardRole) -> tuple[str, ...]:
        return tuple(c.card_id for c in self.cards if c.role is role)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    event: Event


@dataclass(frozen=True, slots=True)
class GapClosure:
    """A gap closed by linking the card that now answers it: the events it held then identify it later."""

    event_ids: frozenset[int]
    card_id: str
    at: datetime
    by: str  # the write key's subject
