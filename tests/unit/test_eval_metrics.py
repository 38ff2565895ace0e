"""The eval harness's metrics: pure scoring functions and the metric classes over hand-made observations."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from evals.golden import GoldenQuestion, Outcome, Verdict
from evals.harness.observing.observation import CheckedCitation, Observation, RankedCard, best_scores, check_citation
from evals.harness.scoring.metrics import (
    CitationMetric,
    LatencyMetric,
    OutcomeMetric,
    RetrievalMetric,
    check_for,
    citation_precision,
    citation_recall,
    first_rank,
    mean,
    mrr,
    percentile,
    question_checks,
    ratio,
    recall_at,
    refusal_precision_recall,
    refusal_scores,
    share,
    trusted_share,
)
from rag.domain.trust import TrustStatus
from tests.builders import make_card

AS_OF = datetime(2026, 11, 22, 12, tzinfo=UTC)


def question(qid: str, expected: Outcome, cards: list[str], cross: bool = False) -> GoldenQuestion:
    return GoldenQuestion(
        id=qid,
        question=f"question {qid}",
        language="en",
        expected_card_ids=cards,
        expected_outcome=expected,
        cross_language=cross,
        as_of=AS_OF,
    )


def observed(
    q: GoldenQuestion,
    outcome: Outcome,
    cited: tuple[str, ...] = (),
    ranking: tuple[str, ...] = (),
    citations: tuple[CheckedCitation, ...] = (),
    latency: float = 10.0,
) -> Observation:
    return Observation(
        verdict=Verdict(q, outcome, cited, (), None, latency),
        answer="An answer. [1]" if outcome == "answer" else None,
        citations=citations,
        ranking=tuple(RankedCard(c, TrustStatus.VERIFIED, 0.5) for c in ranking),
        answered_at=AS_OF,
        best_trusted=None,
        best_untrusted=None,
    )


def cite(card_id: str, visible: bool = True, verified: bool = True) -> CheckedCitation:
    return CheckedCitation(1, card_id, "snippet", visible, verified, "text" if visible else None)


def test_share_and_mean_say_none_when_there_is_nothing_to_measure() -> None:
    assert share(1, 4) == 0.25
    assert share(0, 0) is None
    assert mean([]) is None
    assert mean([1.0, 0.0]) == 0.5


def test_refusal_scores_per_reason_and_wrong_answers_apart() -> None:
    pairs = [
        ("answer", "answer"),
        ("answer", "no_evidence"),  # a missed answer: costs refusal precision
        ("no_evidence", "no_evidence"),
        ("no_evidence", "answer"),  # a wrong answer
        ("only_expired", "only_unverified"),  # refused, but with the wrong reason
        ("only_unverified", "only_unverified"),
    ]
    s = refusal_scores(pairs)
    assert s["refusal.precision"] == 3 / 4
    assert s["refusal.recall"] == 3 / 4
    assert s["refusal.wrong_answers"] == 1
    assert s["refusal.wrong_answer_rate"] == 1 / 4
    assert s["refusal.missed_answers"] == 1
    assert s["refusal.no_evidence.precision"] == 1 / 2
    assert s["refusal.no_evidence.recall"] == 1 / 2
    assert s["refusal.only_unverified.precision"] == 1 / 2
    assert s["refusal.only_unverified.recall"] == 1.0
    assert s["refusal.only_expired.precision"] is None  # never given
    assert s["refusal.only_expired.recall"] == 0.0


def test_refusal_precision_and_recall_are_none_with_nothing_to_divide() -> None:
    assert refusal_precision_recall([]) == (None, None)
    assert refusal_precision_recall([("answer", "answer")]) == (None, None)  # nothing refused, nothing to refuse
    assert refusal_precision_recall([("no_evidence", "answer")]) == (None, 0.0)
    assert refusal_precision_recall([("answer", "only_expired")]) == (0.0, None)
    s = refusal_scores([("answer", "answer")])
    assert s["refusal.precision"] is None and s["refusal.recall"] is None


def test_citation_precision_and_recall_are_id_based() -> None:
    assert citation_precision(["a", "b", "a"], ["a"]) == 0.5
    assert citation_recall(["a", "b"], ["a", "c"]) == 0.5
    assert citation_precision([], ["a"]) is None
    assert citation_recall(["a"], []) is None
    assert trusted_share([True, True, False, True]) == 0.75
    assert trusted_share([]) is None


def test_retrieval_ranks_recall_and_mrr() -> None:
    assert first_rank(["x", "a", "b"], ["b", "a"]) == 2
    assert first_rank(["x"], ["a"]) is None
    ranks = [1, 3, None, 2]
    assert recall_at(ranks, 1) == 0.25
    assert recall_at(ranks, 3) == 0.75
    assert mrr(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)


def test_percentile_interpolates() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([float(v) for v in range(1, 101)], 95) == pytest.approx(95.05)
    assert percentile([], 50) is None


def test_outcome_metric_counts_answers_with_the_expected_card() -> None:
    qs = [
        question("q1", "answer", ["a"], cross=True),
        question("q2", "answer", ["b"]),
        question("q3", "no_evidence", []),
    ]
    obs = [observed(qs[0], "answer", ("a",)), observed(qs[1], "answer", ("c",)), observed(qs[2], "no_evidence")]
    s = OutcomeMetric().score(obs)
    assert s["answer.rate"] == 1.0
    assert s["answer.expected_card_cited"] == 0.5
    assert s["answer.cross_language_correct"] == 1.0
    assert s["outcome.accuracy"] == pytest.approx(2 / 3)


def test_citation_metric_checks_trust_of_every_citation_even_in_wrong_answers() -> None:
    qs = [question("q1", "answer", ["a"]), question("q2", "only_expired", ["old"])]
    obs = [
        observed(qs[0], "answer", ("a", "b"), citations=(cite("a"), cite("b"))),
        observed(qs[1], "answer", ("old",), citations=(cite("old", verified=False),)),  # the gate let it through
    ]
    s = CitationMetric().score(obs)
    assert s["citation.precision"] == 0.5  # answerable questions only
    assert s["citation.recall"] == 1.0
    assert s["citation.trusted_share"] == pytest.approx(2 / 3)
    assert s["citation.untrusted"] == 1


def test_retrieval_metric_uses_questions_that_name_cards() -> None:
    qs = [question("q1", "answer", ["a"]), question("q2", "only_unverified", ["u"]), question("q3", "no_evidence", [])]
    obs = [observed(qs[0], "answer", ranking=("a",)), observed(qs[1], "only_unverified", ranking=("x", "y", "u"))]
    obs.append(observed(qs[2], "no_evidence", ranking=("z",)))
    s = RetrievalMetric(ks=(1, 3)).score(obs)
    assert s == {"retrieval.recall@1": 0.5, "retrieval.recall@3": 1.0, "retrieval.mrr": pytest.approx(2 / 3)}


def test_latency_metric_without_a_floor_has_no_ratio() -> None:
    q = question("q1", "answer", ["a"])
    s = LatencyMetric().score([observed(q, "answer", latency=v) for v in (10.0, 20.0, 30.0)])
    assert s["latency.p50_ms"] == 20.0 and s["latency.p95_ms"] == pytest.approx(29.0) and s["latency.max_ms"] == 30.0
    assert s["latency.p50_vs_floor"] is None and s["latency.p95_vs_floor"] is None


def test_latency_metric_against_the_floor_measured_beside_it() -> None:
    q = question("q1", "answer", ["a"])
    obs = [replace(observed(q, "answer", latency=v), floor_ms=f) for v, f in ((10.0, 5.0), (20.0, 10.0), (30.0, 5.0))]
    s = LatencyMetric().score(obs)
    assert s["latency.floor_p50_ms"] == 5.0
    assert s["latency.p50_vs_floor"] == 4.0
    assert s["latency.p95_vs_floor"] == pytest.approx(29.0 / 9.5)
    assert ratio(1.0, 0.0) is None and ratio(None, 1.0) is None


def test_a_citation_is_checked_against_the_cards_own_facts_and_groups() -> None:
    verified = make_card(id="a", verified_at=datetime(2026, 11, 1, tzinfo=UTC), verify_interval_days=30)
    ok = check_citation(1, "a", "s", verified, [], AS_OF)
    assert ok.trusted and ok.text is not None and ok.text.startswith(verified.title)
    expired = check_citation(1, "a", "s", verified, [], datetime(2026, 12, 2, tzinfo=UTC))
    assert expired.visible and not expired.verified and not expired.trusted
    hidden_card = make_card(id="h", groups=("finance",))
    hidden = check_citation(1, "h", "s", hidden_card, ["support-leads"], AS_OF)
    assert not hidden.visible and hidden.text is None
    assert check_citation(1, "h", "s", hidden_card, ["finance"], AS_OF).trusted
    assert not check_citation(1, "gone", "s", None, [], AS_OF).trusted


def test_best_scores_split_by_trust() -> None:
    ranked = [(TrustStatus.VERIFIED, 0.3), (TrustStatus.EXPIRED, 0.5), (TrustStatus.VERIFIED, 0.4)]
    assert best_scores(ranked) == (0.4, 0.5)
    assert best_scores([(TrustStatus.UNVERIFIED, 0.2)]) == (None, 0.2)


def test_question_checks_and_which_check_explains_a_metric() -> None:
    q = question("q1", "answer", ["a"])
    o = observed(q, "answer", ("a",), ranking=("x", "y", "z", "w", "v", "a"), citations=(cite("a", verified=False),))
    checks = question_checks(o, offline=0.5, judged=0.9)
    assert checks == {
        "outcome": True,
        "trusted_citations": False,
        "faithful": False,
        "retrieved": False,  # rank 6 is beyond the top 5
        "ragas_faithful": True,
    }
    assert "ragas_faithful" not in question_checks(o, offline=None, judged=None)
    assert check_for("refusal.only_expired.recall") == "outcome"
    assert check_for("citation.trusted_share") == "trusted_citations"
    assert check_for("faithfulness.ragas") == "ragas_faithful"
    assert check_for("faithfulness.offline_all_supported") == "faithful"
    assert check_for("retrieval.mrr") == "retrieved"
    assert check_for("latency.p95_ms") is None
