"""The golden question set: load it, run it through Verity at its fixed instant, score the verdicts.

Scoring functions are pure; `run_golden` is the only part that touches a Verity.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from rag.domain.clock import FixedClock
from rag.domain.types import Asker, AskResult
from rag.services.ask import Verity

Outcome = Literal["answer", "no_evidence", "only_unverified", "only_expired"]
DEFAULT_GOLDEN = Path(__file__).parent / "datasets" / "golden.jsonl"


class GoldenQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question: str
    language: str
    groups: list[str] = []
    expected_card_ids: list[str]
    expected_outcome: Outcome
    reference_answer: str = ""
    cross_language: bool = False
    as_of: datetime


class Asks(Protocol):
    """Anything that answers a question as `Verity.ask` does (the eval harness may hand in another)."""

    def ask(self, question: str, asker: Asker) -> AskResult: ...


class DatasetError(ValueError):
    """A golden set line that is not valid JSON or not a valid question, with its file and line."""


def load_golden(path: Path = DEFAULT_GOLDEN) -> list[GoldenQuestion]:
    """Every question of a JSONL golden set; a bad line or a repeated id raises `DatasetError` naming it."""
    questions: list[GoldenQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = GoldenQuestion.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise DatasetError(f"{path}:{number}: {exc}") from None
        if question.id in seen:
            raise DatasetError(f"{path}:{number}: question id {question.id!r} repeats line {seen[question.id]}")
        if question.as_of.tzinfo is None:
            raise DatasetError(f"{path}:{number}: as_of needs a time zone (for example Z)")
        seen[question.id] = number
        questions.append(question)
    return questions


@dataclass(frozen=True, slots=True)
class Verdict:
    question: GoldenQuestion
    outcome: Outcome
    cited: tuple[str, ...]  # cards cited in an answer
    candidates: tuple[str, ...]  # cards named in a refusal
    top_rank_score: float | None  # best ranking score among the cited cards
    latency_ms: float

    @property
    def should_refuse(self) -> bool:
        return self.question.expected_outcome != "answer"

    @property
    def refused(self) -> bool:
        return self.outcome != "answer"

    @property
    def cites_expected(self) -> bool:
        return bool(set(self.cited) & set(self.question.expected_card_ids))

    @property
    def correct(self) -> bool:
        if self.question.expected_outcome == "answer":
            return self.outcome == "answer" and self.cites_expected
        return self.outcome == self.question.expected_outcome


def ask_at(verity: Asks, clock: FixedClock, question: GoldenQuestion) -> AskResult:
    """Ask one question at its own instant (`as_of`) with its asker's groups."""
    clock.set(question.as_of)
    return verity.ask(question.question, Asker(groups=frozenset(question.groups)))


def verdict_of(question: GoldenQuestion, result: AskResult, latency_ms: float | None = None) -> Verdict:
    """Pure: what Verity did with a question (latency: the pipeline's own total unless measured outside)."""
    latency = result.timings_ms.get("total_ms", 0.0) if latency_ms is None else latency_ms
    if result.answer is not None:
        citations = result.answer.citations
        top = max((c.rank_score for c in citations), default=None)
        return Verdict(question, "answer", tuple(c.card_id for c in citations), (), top, latency)
    assert result.refusal is not None
    candidates = tuple(c.card_id for c in result.refusal.candidates)
    return Verdict(question, result.refusal.reason.value, (), candidates, None, latency)


def run_golden(verity: Verity, clock: FixedClock, questions: Sequence[GoldenQuestion]) -> list[Verdict]:
    """Ask every question at its own instant (`as_of`) with its asker's groups."""
    return [verdict_of(q, ask_at(verity, clock, q)) for q in questions]


def _share(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


@dataclass(frozen=True, slots=True)
class GoldenSummary:
    questions: int
    answerable: int
    expected_card_cited: float  # share of answerable questions answered citing an expected card
    refusal_reason_accuracy: float  # of the should-refuse questions, how many got exactly the expected reason
    wrong_answers: int  # answered although a refusal was expected: the costly error
    cross_language_correct: float  # share of cross-language answerable questions answered with an expected card
    outcome_accuracy: float

    def as_dict(self) -> dict[str, float | int]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def summarize(verdicts: Sequence[Verdict]) -> GoldenSummary:
    answerable = [v for v in verdicts if not v.should_refuse]
    should_refuse = [v for v in verdicts if v.should_refuse]
    cross = [v for v in answerable if v.question.cross_language]
    return GoldenSummary(
        questions=len(verdicts),
        answerable=len(answerable),
        expected_card_cited=_share(sum(v.correct for v in answerable), len(answerable)),
        refusal_reason_accuracy=_share(sum(v.correct for v in should_refuse), len(should_refuse)),
        wrong_answers=sum(not v.refused for v in should_refuse),
        cross_language_correct=_share(sum(v.correct for v in cross), len(cross)),
        outcome_accuracy=_share(sum(v.correct for v in verdicts), len(verdicts)),
    )
