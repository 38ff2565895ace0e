"""The report, as machines read it (`report.json`); the HTML page and the gate are built from this.

Version 1. Metric names are flat (see evals/harness/scoring/metrics.py); `questions` holds one row per question
with everything a person needs to see why it passed or failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

Metrics = dict[str, float | int | None]


class CitationRow(BaseModel):
    marker: int
    card_id: str
    snippet: str
    visible: bool
    verified: bool


class SentenceRow(BaseModel):
    sentence: str
    supported: bool
    problem: str | None
    support: float


class QuestionRow(BaseModel):
    id: str
    question: str
    language: str
    groups: list[str]
    expected_outcome: str
    expected_card_ids: list[str]
    outcome: str
    correct: bool
    answer: str | None
    citations: list[CitationRow]
    candidates: list[str]
    ranking: list[str]
    answered_at: datetime
    best_trusted: float | None
    best_untrusted: float | None
    latency_ms: float
    offline_faithfulness: float | None
    sentences: list[SentenceRow]
    ragas_faithfulness: float | None = None
    ragas_error: str = ""
    checks: dict[str, bool]


class TradeoffRow(BaseModel):
    threshold: float
    answer_rate: float | None
    wrong_answer_rate: float | None


class RunInfo(BaseModel):
    dataset: str
    dataset_sha256: str
    questions: int
    mode: Literal["in_process", "http"]
    target: str
    started_at: datetime
    seconds: float
    top_k: int
    answer_confidence: float
    untrusted_margin: float
    judge: str | None  # "model at url" when ragas ran
    warnings: list[str]


class EvalReport(BaseModel):
    version: Literal[1] = 1
    run: RunInfo
    metrics: Metrics
    tradeoff: list[TradeoffRow]
    questions: list[QuestionRow]

    def failing(self, check: str) -> list[str]:
        return [q.id for q in self.questions if not q.checks.get(check, True)]
