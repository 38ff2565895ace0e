"""Checking a reply someone wrote, sentence by sentence, against the verified cards its author may see.

The pure part: splitting the reply, the per-sentence verdicts and the summary. `Verity.check_reply`
(rag/services/ask.py) finds the cards for each sentence and asks the citation guard (rag/answering/guard/core.py).

Each sentence of the reply gets one status:
- `supported`: the guard passed it against the verified cards found for it; the cards that support it are
  listed with the exact words of theirs that do;
- `not_supported`: verified cards cover its topic, but the guard failed it against them; `reason` is the
  guard's problem (an open set of codes: `unsupported_fact` for a number or identifier the cards do not state,
  `unsupported`, `negation_mismatch`, and whatever the guard learns to tell), with the cards it was checked
  against;
- `not_covered`: no verified card the author may see is about it, by the rule `/v1/ask` answers by: no card
  verified now reaches `answer_confidence` (rag/retrieval/decision.py) for the sentence.

`[n]` markers in a pasted reply refer to nothing Verity knows: they are removed before anything is looked up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rag.answering.generation import PromptEvidence
from rag.answering.guard.claims import split_claims
from rag.answering.guard.core import SentenceVerdict
from rag.answering.sentences import normalise_space
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.trust import epoch_to_datetime
from rag.domain.types import GuardProblem
from rag.retrieval.evidence import CardEvidence

MAX_SENTENCES = 40  # sentences of one reply: each is a store query and a guard check


class CheckStatus(StrEnum):
    SUPPORTED = "supported"
    NOT_SUPPORTED = "not_supported"
    NOT_COVERED = "not_covered"


@dataclass(frozen=True, slots=True)
class CheckedCard:
    """A verified card a sentence was checked against, with its words that support the sentence (none when
    the sentence was not supported)."""

    card_id: str
    title: str
    url: str | None
    collection: str
    verifier: str | None
    verified_at: datetime | None
    verified_until: datetime | None  # None: the card does not expire
    internal_only: bool
    evidence: tuple[str, ...] = ()

    @property
    def quotable_to_customer(self) -> bool:
        return not self.internal_only


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    text: str  # the sentence as written (markers included, white space folded)
    status: CheckStatus
    cards: tuple[CheckedCard, ...] = ()
    reason: GuardProblem | None = None  # not_supported: the guard's problem code
    detail: str = ""

    @property
    def quotable_to_customer(self) -> bool:
        """Supported by at least one card that is not an internal note."""
        return self.status is CheckStatus.SUPPORTED and any(c.quotable_to_customer for c in self.cards)


@dataclass(frozen=True, slots=True)
class CheckSummary:
    sentences: int
    supported: int
    not_supported: int
    not_covered: int
    quotable: bool  # every sentence supported by a card that is not an internal note


@dataclass(frozen=True, slots=True)
class CheckResult:
    as_of: datetime
    sentences: tuple[SentenceCheck, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> CheckSummary:
        return summarise(self.sentences)


@dataclass(frozen=True, slots=True)
class ReplySentence:
    text: str  # as written, markers included
    claim: str  # what is checked: markers removed


def reply_sentences(reply: str, limit: int = MAX_SENTENCES) -> list[ReplySentence]:
    """Pure: the sentences of a reply, each with its claim without `[n]` markers; VerityError(INVALID_REQUEST)
    when there is none or more than `limit`."""
    found = [ReplySentence(normalise_space(s), normalise_space(c)) for s, c, _ in split_claims(reply)]
    if not found:
        raise VerityError(ErrorCode.INVALID_REQUEST, "the reply has no sentence to check")
    if len(found) > limit:
        raise VerityError(
            ErrorCode.INVALID_REQUEST,
            f"the reply has {len(found)} sentences; the limit is {limit} (check it in parts)",
        )
    return found


def checked_card(card: CardEvidence, evidence: Sequence[str] = ()) -> CheckedCard:
    f = card.facts
    return CheckedCard(
        card_id=f.card_id,
        title=f.title,
        url=f.url,
        collection=f.collection,
        verifier=f.verifier,
        verified_at=f.verified_at,
        verified_until=epoch_to_datetime(f.verified_until_epoch),
        internal_only=f.internal_only,
        evidence=tuple(evidence),
    )


def not_covered(sentence: ReplySentence) -> SentenceCheck:
    return SentenceCheck(sentence.text, CheckStatus.NOT_COVERED)


def judged(
    sentence: ReplySentence,
    verdict: SentenceVerdict,
    evidence: Sequence[PromptEvidence],
    more_support: Iterable[tuple[int, str]] = (),
) -> SentenceCheck:
    """Pure: the guard's verdict on a sentence checked against `evidence` (numbered verified cards) as a
    check. A supported sentence lists the cards whose words support it (`verdict.evidence`, and
    `more_support` found by a second look), best first; a guard that passes a sentence without saying which
    words did is taken to rest on every card it was checked against."""
    if not verdict.ok:
        cards = tuple(checked_card(e.card) for e in evidence)
        return SentenceCheck(sentence.text, CheckStatus.NOT_SUPPORTED, cards, verdict.problem, verdict.detail)
    words: dict[int, list[str]] = {}
    for marker, text in (*verdict.evidence, *more_support):
        kept = words.setdefault(marker, [])
        if text not in kept:
            kept.append(text)
    by_marker = {e.marker: e for e in evidence}
    supporting = [m for m in words if m in by_marker] or list(by_marker)
    cards = tuple(checked_card(by_marker[m].card, words.get(m, ())) for m in supporting)
    return SentenceCheck(sentence.text, CheckStatus.SUPPORTED, cards)


def summarise(sentences: Sequence[SentenceCheck]) -> CheckSummary:
    def count(status: CheckStatus) -> int:
        return sum(1 for s in sentences if s.status is status)

    return CheckSummary(
        sentences=len(sentences),
        supported=count(CheckStatus.SUPPORTED),
        not_supported=count(CheckStatus.NOT_SUPPORTED),
        not_covered=count(CheckStatus.NOT_COVERED),
        quotable=bool(sentences) and all(s.quotable_to_customer for s in sentences),
    )
