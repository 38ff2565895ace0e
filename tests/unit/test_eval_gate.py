"""The gate: tolerances, regressions named with the questions that newly fail, and the baseline it writes."""

from __future__ import annotations

from datetime import UTC, datetime

from evals.harness.reporting.gate import (
    DEFAULT_TOLERANCES,
    Baseline,
    Tolerance,
    allowed,
    baseline_from,
    compare,
    regressed,
)
from evals.harness.reporting.report import EvalReport, Metrics, QuestionRow, RunInfo

AS_OF = datetime(2026, 11, 22, 12, tzinfo=UTC)


def row(qid: str, **checks: bool) -> QuestionRow:
    return QuestionRow(
        id=qid, question="?", language="en", groups=[], expected_outcome="answer", expected_card_ids=["a"],
        outcome="answer", correct=checks.get("outcome", True), answer="A. [1]", citations=[], candidates=[],
        ranking=["a"], answered_at=AS_OF, best_trusted=0.5, best_untrusted=None, latency_ms=10.0,
        offline_faithfulness=1.0, sentences=[],
        checks={"outcome": True, "trusted_citations": True, "faithful": True, "retrieved": True, **checks},
    )  # fmt: skip


def report(metrics: Metrics, rows: list[QuestionRow], sha: str = "abc") -> EvalReport:
    run = RunInfo(
        dataset="golden.jsonl", dataset_sha256=sha, questions=len(rows), mode="in_process", target="t",
        started_at=AS_OF, seconds=1.0, top_k=10, answer_confidence=0.28, untrusted_margin=0.02,
        judge=None, warnings=[],
    )  # fmt: skip
    return EvalReport(run=run, metrics=metrics, tradeoff=[], questions=rows)


BASE_METRICS: Metrics = {
    "outcome.accuracy": 0.9,
    "citation.trusted_share": 1.0,
    "refusal.wrong_answers": 4,
    "latency.p95_vs_floor": 3.0,
    "faithfulness.offline": 1.0,
}
TOLERANCES = {k: DEFAULT_TOLERANCES[k] for k in BASE_METRICS}


def baseline() -> Baseline:
    return baseline_from(report(BASE_METRICS, [row("q1"), row("q2"), row("q3", outcome=False)]), TOLERANCES)


def test_allowed_bounds() -> None:
    assert allowed(0.9, Tolerance(better="higher", abs=0.02)) == 0.88
    assert allowed(4, Tolerance(better="lower", abs=1)) == 5
    assert allowed(100.0, Tolerance(better="lower", rel=3.0)) == 400.0
    assert allowed(0.5, Tolerance(better="higher", abs=0.1, limit=1.0)) == 1.0  # the hard limit wins
    assert regressed(0.87, 0.9, Tolerance(better="higher", abs=0.02))
    assert not regressed(0.88, 0.9, Tolerance(better="higher", abs=0.02))
    assert regressed(6, 4, Tolerance(better="lower", abs=1))
    assert not regressed(5, 4, Tolerance(better="lower", abs=1))


def test_a_run_like_the_baseline_passes() -> None:
    result = compare(baseline(), report(dict(BASE_METRICS), [row("q1"), row("q2"), row("q3", outcome=False)]))
    assert result.passed and not result.notes and not result.improvements


def test_noise_within_tolerance_passes_and_a_big_gain_is_reported() -> None:
    metrics = {**BASE_METRICS, "outcome.accuracy": 0.89, "refusal.wrong_answers": 5, "latency.p95_vs_floor": 5.9}
    assert compare(baseline(), report(metrics, [row("q1"), row("q2"), row("q3")])).passed
    better = compare(baseline(), report({**BASE_METRICS, "outcome.accuracy": 0.99}, [row("q1")]))
    assert better.passed and better.improvements == ["outcome.accuracy: 0.9 -> 0.99"]


def test_a_regression_names_the_metric_and_the_newly_failing_questions() -> None:
    metrics = {**BASE_METRICS, "outcome.accuracy": 0.6, "citation.trusted_share": 0.97, "refusal.wrong_answers": 7}
    rows = [row("q1", outcome=False, trusted_citations=False), row("q2"), row("q3", outcome=False)]
    result = compare(baseline(), report(metrics, rows))
    assert not result.passed
    by_metric = {r.metric: r for r in result.regressions}
    assert set(by_metric) == {"outcome.accuracy", "citation.trusted_share", "refusal.wrong_answers"}
    assert by_metric["outcome.accuracy"].questions == ("q1",)  # q3 failed already in the baseline
    assert by_metric["citation.trusted_share"].questions == ("q1",)
    assert by_metric["citation.trusted_share"].allowed == 1.0
    line = by_metric["outcome.accuracy"].describe()
    assert "outcome.accuracy: 0.9 -> 0.6" in line and "newly failing outcome: q1" in line


def test_a_metric_no_longer_measured_is_a_regression() -> None:
    metrics = {**BASE_METRICS, "faithfulness.offline": None}
    result = compare(baseline(), report(metrics, [row("q1"), row("q2")]))
    assert [r.metric for r in result.regressions] == ["faithfulness.offline"]
    assert "not measured" in result.regressions[0].describe()


def test_latency_gates_on_its_ratio_to_the_floor_and_only_where_measured() -> None:
    slower = compare(baseline(), report({**BASE_METRICS, "latency.p95_vs_floor": 6.5}, [row("q1"), row("q2")]))
    assert [r.metric for r in slower.regressions] == ["latency.p95_vs_floor"]
    assert "allowed 6" in slower.regressions[0].describe()
    over_http = compare(baseline(), report({**BASE_METRICS, "latency.p95_vs_floor": None}, [row("q1"), row("q2")]))
    assert over_http.passed
    assert any("latency.p95_vs_floor is not measured" in n for n in over_http.notes)


def test_the_hard_limit_holds_without_a_baseline_value() -> None:
    base = baseline()
    base.metrics["citation.trusted_share"] = None
    result = compare(base, report({**BASE_METRICS, "citation.trusted_share": 0.99}, [row("q1")]))
    assert [r.metric for r in result.regressions] == ["citation.trusted_share"]


def test_dataset_changes_and_new_failing_questions_are_noted() -> None:
    rows = [row("q1"), row("q2"), row("q3", outcome=False), row("q9", faithful=False)]
    result = compare(baseline(), report(dict(BASE_METRICS), rows, sha="other"))
    assert result.passed
    assert any("dataset differs" in n for n in result.notes)
    assert any("q9" in n for n in result.notes)


def test_baseline_round_trips_with_per_question_checks() -> None:
    base = baseline()
    again = Baseline.model_validate_json(base.model_dump_json())
    assert again == base
    assert again.questions["q3"]["outcome"] is False
    assert baseline_from(report(BASE_METRICS, [row("q1")])).tolerances == DEFAULT_TOLERANCES
