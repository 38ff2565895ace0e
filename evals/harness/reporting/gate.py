"""The gate: a run's metrics against a stored baseline, each within its tolerance.

A baseline (evals/baselines/*.json, versioned with the code) holds the metrics of a run that was accepted,
the tolerance of every gated metric, and each question's pass/fail per check. A regression names the
metric, its baseline and current value, the limit it crossed, and the questions whose check behind that
metric went from passing to failing. Tolerances are absolute (`abs`), relative to the baseline (`rel`),
and an optional hard `limit` that holds whatever the baseline says (trusted citations: exactly 1.0).
Scores are never compared as exact floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from evals.harness.reporting.report import EvalReport, Metrics
from evals.harness.scoring.metrics import check_for


class Tolerance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    better: Literal["higher", "lower"]
    abs: float = 0.0
    rel: float = 0.0
    limit: float | None = None  # a hard floor (higher is better) or ceiling (lower is better)
    optional: bool = False  # a run that cannot measure it (latency ratios over HTTP) is noted, not failed


def _tol(
    better: Literal["higher", "lower"],
    abs_: float = 0.0,
    rel: float = 0.0,
    limit: float | None = None,
    optional: bool = False,
) -> Tolerance:
    return Tolerance(better=better, abs=abs_, rel=rel, limit=limit, optional=optional)


# About one question's worth of slack on the sample golden set (106 questions: 73 answerable, 33 to refuse,
# 8 per only_* reason), so a single borderline question moving does not fail the gate but two do.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "outcome.accuracy": _tol("higher", 0.015),
    "answer.expected_card_cited": _tol("higher", 0.02),
    "answer.cross_language_correct": _tol("higher", 0.04),
    "refusal.precision": _tol("higher", 0.035),
    "refusal.recall": _tol("higher", 0.035),
    "refusal.wrong_answers": _tol("lower", 1),
    "refusal.no_evidence.precision": _tol("higher", 0.07),
    "refusal.no_evidence.recall": _tol("higher", 0.07),
    "refusal.only_unverified.precision": _tol("higher", 0.13),
    "refusal.only_unverified.recall": _tol("higher", 0.13),
    "refusal.only_expired.precision": _tol("higher", 0.13),
    "refusal.only_expired.recall": _tol("higher", 0.13),
    "citation.precision": _tol("higher", 0.02),
    "citation.recall": _tol("higher", 0.02),
    "citation.trusted_share": _tol("higher", limit=1.0),
    "faithfulness.offline": _tol("higher", 0.02),
    "faithfulness.offline_all_supported": _tol("higher", 0.03),
    "retrieval.recall@1": _tol("higher", 0.03),
    "retrieval.recall@5": _tol("higher", 0.02),
    "retrieval.mrr": _tol("higher", 0.03),
    # latency as a ratio to the floor measured beside each answer in the same run (one query embedding plus
    # one Chroma query): machines and their load differ, ratios much less. In process only.
    "latency.p50_vs_floor": _tol("lower", rel=0.5, optional=True),
    "latency.p95_vs_floor": _tol("lower", rel=1.0, optional=True),
}


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    dataset: str
    dataset_sha256: str
    mode: str
    written_at: datetime
    metrics: Metrics
    tolerances: dict[str, Tolerance]
    questions: dict[str, dict[str, bool]]


def baseline_from(report: EvalReport, tolerances: dict[str, Tolerance] | None = None) -> Baseline:
    return Baseline(
        dataset=report.run.dataset,
        dataset_sha256=report.run.dataset_sha256,
        mode=report.run.mode,
        written_at=report.run.started_at,
        metrics=report.metrics,
        tolerances=dict(DEFAULT_TOLERANCES if tolerances is None else tolerances),
        questions={q.id: q.checks for q in report.questions},
    )


def allowed(baseline: float, tolerance: Tolerance) -> float:
    """Pure: the worst value the tolerance accepts, given the baseline value."""
    slack = tolerance.abs + tolerance.rel * abs(baseline)
    if tolerance.better == "higher":
        bound = baseline - slack
        return bound if tolerance.limit is None else max(bound, tolerance.limit)
    bound = baseline + slack
    return bound if tolerance.limit is None else min(bound, tolerance.limit)


def regressed(current: float, baseline: float, tolerance: Tolerance) -> bool:
    """Pure: is the current value worse than the tolerance allows? (1e-9: rounding in the report)"""
    bound = allowed(baseline, tolerance)
    return current < bound - 1e-9 if tolerance.better == "higher" else current > bound + 1e-9


@dataclass(frozen=True, slots=True)
class Regression:
    metric: str
    baseline: float | int | None
    current: float | int | None
    allowed: float | None
    check: str | None
    questions: tuple[str, ...]  # questions whose check went from pass (baseline) to fail (now)

    def describe(self) -> str:
        def fmt(v: float | int | None) -> str:
            return "not measured" if v is None else f"{v:.4g}"

        line = f"REGRESSION {self.metric}: {fmt(self.baseline)} -> {fmt(self.current)}"
        if self.allowed is not None:
            line += f" (allowed {fmt(self.allowed)})"
        if self.questions:
            line += f"; newly failing {self.check}: {', '.join(self.questions)}"
        elif self.check:
            line += f"; no question newly fails {self.check} (the metric moved on questions already failing)"
        return line


@dataclass(slots=True)
class GateResult:
    regressions: list[Regression] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.regressions


def newly_failing(baseline: Baseline, report: EvalReport, check: str) -> tuple[str, ...]:
    """Pure: questions that passed `check` in the baseline and fail it now."""
    return tuple(
        q.id
        for q in report.questions
        if not q.checks.get(check, True) and baseline.questions.get(q.id, {}).get(check, False)
    )


def compare(baseline: Baseline, report: EvalReport) -> GateResult:
    """Pure: every gated metric of a report against the baseline."""
    result = GateResult()
    if baseline.dataset_sha256 != report.run.dataset_sha256:
        result.notes.append(
            f"the dataset differs from the baseline's ({baseline.dataset}); questions are matched by id"
        )
    if baseline.mode != report.run.mode:
        result.notes.append(f"the baseline was measured {baseline.mode}, this run is {report.run.mode}")
    new = [q.id for q in report.questions if q.id not in baseline.questions and not all(q.checks.values())]
    if new:
        result.notes.append(f"questions not in the baseline that fail a check: {', '.join(new)}")
    for metric, tolerance in baseline.tolerances.items():
        base = baseline.metrics.get(metric)
        current = report.metrics.get(metric)
        check = check_for(metric)
        if current is None:
            if base is not None and tolerance.optional:
                result.notes.append(f"{metric} is not measured in this run ({report.run.mode}); not gated")
            elif base is not None:
                questions = newly_failing(baseline, report, check) if check else ()
                result.regressions.append(Regression(metric, base, None, None, check, questions))
            continue
        if base is None:
            if tolerance.limit is not None and regressed(current, tolerance.limit, _tol(tolerance.better)):
                result.regressions.append(Regression(metric, None, current, tolerance.limit, check, ()))
            else:
                result.notes.append(f"{metric} has no baseline value; now {current:.4g}")
            continue
        bound = allowed(base, tolerance)
        if regressed(current, base, tolerance):
            questions = newly_failing(baseline, report, check) if check else ()
            result.regressions.append(Regression(metric, base, current, bound, check, questions))
        elif regressed(base, current, tolerance):  # better than the baseline by more than the tolerance
            result.improvements.append(f"{metric}: {base:.4g} -> {current:.4g}")
    return result
