"""What the harness saw for one question, whichever way Verity was reached (in process or over HTTP).

An observation keeps what scoring needs and nothing more: the verdict of evals/golden.py (outcome, cited
and candidate cards, latency), the answer text, every citation checked against the card's own facts (not
against what the pipeline said about it), the ranking of a search, and the scores the answer/refuse
decision compares, so that the refusal trade-off can be drawn for any threshold without asking again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from evals.golden import GoldenQuestion, Verdict
from rag.domain.cards import Card
from rag.domain.trust import TrustStatus, trust_status, until_epoch


@dataclass(frozen=True, slots=True)
class CheckedCitation:
    """A citation, and what the card itself says about it at the instant the answer was given."""

    marker: int
    card_id: str
    snippet: str
    visible: bool  # the asker may see the card (False also when the card does not exist)
    verified: bool  # the card was verified at that instant, by its own state, verified_at and interval
    text: str | None  # title and body, for faithfulness; None when the card is not visible

    @property
    def trusted(self) -> bool:
        return self.visible and self.verified


@dataclass(frozen=True, slots=True)
class RankedCard:
    card_id: str
    trust: TrustStatus
    rank_score: float  # ranking score (dense plus lexical boost), as search orders cards


@dataclass(frozen=True, slots=True)
class Observation:
    verdict: Verdict
    answer: str | None
    citations: tuple[CheckedCitation, ...]
    ranking: tuple[RankedCard, ...]  # best first, as many as the run's top_k
    answered_at: datetime  # the instant Verity evaluated its verification gate at
    best_trusted: float | None  # best verified card's relevance (the decision's confidence); None: none found
    best_untrusted: float | None  # best unverified or expired card's relevance
    floor_ms: float | None = None  # in process: one query embedding plus one Chroma query, measured beside it

    @property
    def question(self) -> GoldenQuestion:
        return self.verdict.question


def check_citation(
    marker: int, card_id: str, snippet: str, card: Card | None, groups: Sequence[str], at: datetime
) -> CheckedCitation:
    """Pure: a citation judged by the card's own trust facts and groups at the instant of the answer."""
    if card is None:
        return CheckedCitation(marker, card_id, snippet, visible=False, verified=False, text=None)
    visible = not card.groups or bool(set(card.groups) & set(groups))
    epoch = until_epoch(card.state, card.verified_at, card.verified_until)
    verified = trust_status(card.state, epoch, at) is TrustStatus.VERIFIED
    return CheckedCitation(
        marker, card_id, snippet, visible, verified, f"{card.title}\n\n{card.body}" if visible else None
    )


def best_scores(ranked: Sequence[tuple[TrustStatus, float]]) -> tuple[float | None, float | None]:
    """Pure: the best verified and the best untrusted relevance among (trust, relevance) pairs."""
    trusted = [s for t, s in ranked if t is TrustStatus.VERIFIED]
    untrusted = [s for t, s in ranked if t is not TrustStatus.VERIFIED]
    return (max(trusted) if trusted else None, max(untrusted) if untrusted else None)
