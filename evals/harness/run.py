"""One evaluation run: observe every question, judge faithfulness, compute the metrics, build the report.

The observer (in process or over HTTP) only gathers; everything after it works on observations, so both
ways of reaching Verity are scored by exactly the same code.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from evals.golden import GoldenQuestion
from evals.harness.observing.observation import Observation
from evals.harness.reporting.report import CitationRow, EvalReport, QuestionRow, RunInfo, SentenceRow, TradeoffRow
from evals.harness.scoring.faithfulness import OfflineFaithfulness, ragas_scores, supported_share
from evals.harness.scoring.metrics import (
    CitationMetric,
    LatencyMetric,
    OutcomeMetric,
    RefusalMetric,
    RetrievalMetric,
    Scores,
    question_checks,
)
from evals.harness.scoring.tradeoff import replay_agreement, tradeoff
from rag.answering.guard.core import SentenceVerdict

if TYPE_CHECKING:
    from evals.harness.scoring.judge import Judged, RagasFaithfulness

log = logging.getLogger("verity.eval")
THRESHOLDS = [round(0.05 + 0.01 * i, 2) for i in range(91)]  # confidence bars 0.05 .. 0.95


@dataclass(frozen=True, slots=True)
class RunSetup:
    dataset: Path
    mode: Literal["in_process", "http"]
    target: str
    top_k: int
    answer_confidence: float
    untrusted_margin: float
    judge_name: str | None = None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def observe_all(
    observe: Callable[[GoldenQuestion], Observation],
    questions: Sequence[GoldenQuestion],
    progress: Callable[[int, int], None] | None = None,
) -> list[Observation]:
    observations = []
    for n, q in enumerate(questions, start=1):
        observations.append(observe(q))
        if progress is not None:
            progress(n, len(questions))
    return observations


def compute_metrics(
    observations: Sequence[Observation],
    offline: dict[str, float | None],
    judged: dict[str, float | None] | None,
    setup: RunSetup,
) -> Scores:
    scores: Scores = {}
    for metric in (OutcomeMetric(), RefusalMetric(), CitationMetric(), RetrievalMetric(), LatencyMetric()):
        scores.update(metric.score(observations))
    scores.update(OfflineFaithfulness.score(offline))
    if judged is not None:
        scores.update(ragas_scores(judged, offline))
    else:  # no judge configured: reported as not run, never guessed
        scores["faithfulness.ragas"] = None
    scores["tradeoff.replay_agreement"] = replay_agreement(
        observations, setup.answer_confidence, setup.untrusted_margin
    )
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}


def judge_offline(
    observations: Iterable[Observation], faithfulness: OfflineFaithfulness
) -> dict[str, list[SentenceVerdict] | None]:
    return {o.question.id: faithfulness.judge(o) for o in observations}


def judge_ragas(
    observations: Iterable[Observation], judge: RagasFaithfulness, progress: Callable[[str], None] | None = None
) -> dict[str, Judged]:
    """Every answer, against the text of the cards it cites."""
    results = {}
    for o in observations:
        if o.answer is None:
            continue
        contexts = [c.text for c in o.citations if c.text is not None]
        results[o.question.id] = judge.judge(o.question.question, o.answer, contexts)
        if progress is not None:
            progress(o.question.id)
    return results


def build_report(
    setup: RunSetup,
    observations: Sequence[Observation],
    sentence_verdicts: dict[str, list[SentenceVerdict] | None],
    judged: dict[str, Judged] | None,
    started_at: datetime,
    started: float,
    warnings: Sequence[str],
) -> EvalReport:
    offline = {qid: supported_share(v) if v is not None else None for qid, v in sentence_verdicts.items()}
    judged_scores = {qid: j.score for qid, j in judged.items()} if judged is not None else None
    metrics = compute_metrics(observations, offline, judged_scores, setup)
    curve = tradeoff(
        [(o.best_trusted, o.best_untrusted, o.verdict.should_refuse) for o in observations],
        THRESHOLDS,
        setup.untrusted_margin,
    )
    rows = [_row(o, sentence_verdicts.get(o.question.id), offline, judged) for o in observations]
    return EvalReport(
        run=RunInfo(
            dataset=str(setup.dataset),
            dataset_sha256=file_sha256(setup.dataset),
            questions=len(observations),
            mode=setup.mode,
            target=setup.target,
            started_at=started_at,
            seconds=round(time.perf_counter() - started, 2),
            top_k=setup.top_k,
            answer_confidence=setup.answer_confidence,
            untrusted_margin=setup.untrusted_margin,
            judge=setup.judge_name,
            warnings=list(warnings),
        ),
        metrics=metrics,
        tradeoff=[
            TradeoffRow(threshold=p.threshold, answer_rate=p.answer_rate, wrong_answer_rate=p.wrong_answer_rate)
            for p in curve
        ],
        questions=rows,
    )


def _row(
    o: Observation,
    verdicts: list[SentenceVerdict] | None,
    offline: dict[str, float | None],
    judged: dict[str, Judged] | None,
) -> QuestionRow:
    q = o.question
    judgement = judged.get(q.id) if judged is not None else None
    ragas_score = judgement.score if judgement is not None else None
    return QuestionRow(
        id=q.id,
        question=q.question,
        language=q.language,
        groups=list(q.groups),
        expected_outcome=q.expected_outcome,
        expected_card_ids=list(q.expected_card_ids),
        outcome=o.verdict.outcome,
        correct=o.verdict.correct,
        answer=o.answer,
        citations=[
            CitationRow(marker=c.marker, card_id=c.card_id, snippet=c.snippet, visible=c.visible, verified=c.verified)
            for c in o.citations
        ],
        candidates=list(o.verdict.candidates),
        ranking=[r.card_id for r in o.ranking],
        answered_at=o.answered_at,
        best_trusted=_round(o.best_trusted),
        best_untrusted=_round(o.best_untrusted),
        latency_ms=round(o.verdict.latency_ms, 2),
        offline_faithfulness=_round(offline.get(q.id)),
        sentences=[
            SentenceRow(
                sentence=v.sentence,
                supported=v.ok,
                problem=str(v.problem) if v.problem is not None else None,
                support=round(v.support, 4),
            )
            for v in verdicts or []
        ],
        ragas_faithfulness=_round(ragas_score),
        ragas_error=judgement.error if judgement is not None else "",
        checks=question_checks(o, offline.get(q.id), ragas_score),
    )


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def now_utc() -> datetime:
    return datetime.now(UTC)
