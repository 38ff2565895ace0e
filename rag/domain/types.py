"""Typed values that flow through retrieval and answering (dataclasses inside the core)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rag.domain.cards import CardState
from rag.domain.trust import TrustStatus


@dataclass(frozen=True, slots=True)
class Asker:
    """Who is asking: the groups decide which cards may be seen. Empty = public cards only."""

    groups: frozenset[str] = frozenset()
    subject: str = "anonymous"

    def may_see(self, card_groups: Iterable[str]) -> bool:
        """The one visibility rule: a card open to everyone (no groups), or in one of the asker's groups.
        The Chroma adapter states the same rule as a `where` filter (rag/adapters/chroma/records.py)."""
        groups = tuple(card_groups)
        return not groups or not self.groups.isdisjoint(groups)


class RecordKind(StrEnum):
    CHUNK = "chunk"  # token-aware window of a card, title first: ranks cards, feeds an LLM
    SENTENCE = "sentence"  # one sentence of a card with its title: what the extractive answerer quotes
    CARD = "card"  # the card itself, written last: marks a complete version; never returned by retrieval


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What the store keeps about a card beside each of its records: identity and trust facts."""

    card_id: str
    title: str
    collection: str
    url: str | None
    owner: str | None
    verifier: str | None
    state: CardState
    verified_at: datetime | None
    verified_until_epoch: int
    language: str | None
    internal_only: bool
    groups: tuple[str, ...]
    content_hash: str
    meta_hash: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """A retrieved record of a card, with its language-centred cosine and the card's trust *now*."""

    record_id: str
    kind: RecordKind
    text: str
    centred: float  # language-centred cosine: what relevance and sentence choice are judged on
    facts: CardFacts
    trust: TrustStatus
    affinity: float = 0.0  # ranking only: weighted plain cosine less the card language's offset (see centering)
    neutral: float = 0.0  # the plain cosine less the record language's offset, unweighted (a decision signal)
    language: str | None = None  # the language the record was centred by (its card's, else its vector's nearest)

    @property
    def rank_score(self) -> float:
        return self.centred + self.affinity


@dataclass(frozen=True, slots=True)
class Citation:
    marker: int
    card_id: str
    title: str
    url: str | None
    collection: str
    verifier: str | None
    verified_at: datetime | None
    verified_until: datetime | None  # None: never expires
    snippet: str
    rank_score: float  # the card's ranking score (or its best quoted sentence's centred cosine, if higher)
    relevance: float  # the decision's confidence that the card answers (rag/retrieval/decision.py), 0 to 1
    internal_only: bool


@dataclass(frozen=True, slots=True)
class AnswerSentence:
    text: str  # verbatim from the cited card
    marker: int


class GuardProblem(StrEnum):
    """Why the citation guard rejected a sentence (rag/answering/guard/). Clients are told new codes may be added."""

    NO_CITATION = "no_citation"
    UNKNOWN_CITATION = "unknown_citation"
    UNSUPPORTED_FACT = "unsupported_fact"  # a number or identifier the cited evidence does not state
    UNSUPPORTED_NAME = "unsupported_name"  # a name the cited evidence does not state, which pulls away from it
    UNSUPPORTED_CLAUSE = "unsupported_clause"  # one clause of the sentence is not in the cited evidence
    UNSUPPORTED_WORDS = "unsupported_words"  # same language as the evidence, but most of its words are not there
    UNSUPPORTED = "unsupported"  # no cited sentence says this
    NEGATION = "negation_mismatch"  # the sentence and its evidence differ in polarity
    WRONG_CITATION = "wrong_citation"
    NOT_QUOTED = "not_quoted"  # the verifier model quoted no evidence words for it (rag/answering/guard/verifier.py)
    QUOTE_NOT_FOUND = "quote_not_in_evidence"  # the words it quoted are not in the cited evidence


@dataclass(frozen=True, slots=True)
class DroppedSentence:
    """A generated sentence the citation guard removed, with its reason (shown to the agent, not sent on)."""

    text: str
    problem: GuardProblem
    detail: str


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    dropped: tuple[DroppedSentence, ...] = ()  # generated answers only


class RefusalReason(StrEnum):
    NO_EVIDENCE = "no_evidence"
    ONLY_UNVERIFIED = "only_unverified"
    ONLY_EXPIRED = "only_expired"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An untrusted card that looked relevant: named so the agent knows whom to ask, never quoted."""

    card_id: str
    title: str
    status: TrustStatus
    owner: str | None
    verifier: str | None
    verified_at: datetime | None
    verified_until: datetime | None
    url: str | None
    rank_score: float  # ranking score: candidates are ordered by it
    relevance: float  # the decision's confidence that the card answers (rag/retrieval/decision.py), 0 to 1


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: RefusalReason
    message: str
    candidates: tuple[Candidate, ...] = ()
    dropped: tuple[DroppedSentence, ...] = ()  # a generated answer the citation guard rejected


@dataclass(frozen=True, slots=True)
class AskResult:
    """Exactly one of `answer` and `refusal` is set."""

    question: str
    as_of: datetime
    answer: Answer | None = None
    refusal: Refusal | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchHit:
    facts: CardFacts
    trust: TrustStatus
    rank_score: float  # ranking score (centred cosine, affinity and lexical boosts): orders the hits
    snippet: str | None  # only for cards trusted now
    relevance: float = 0.0  # the decision's confidence that this card answers (rag/retrieval/decision.py), 0 to 1


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    as_of: datetime
    hits: tuple[SearchHit, ...]
