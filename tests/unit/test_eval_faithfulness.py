"""Offline faithfulness (the citation guard over the cited cards), its agreement with an LLM judge, and the
refusal trade-off replayed from recorded scores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evals.golden import GoldenQuestion, Outcome, Verdict
from evals.harness.observing.observation import CheckedCitation, Observation
from evals.harness.scoring.faithfulness import OfflineFaithfulness, agreement, ragas_scores, supported_share
from evals.harness.scoring.tradeoff import answers_at, replay_agreement, tradeoff
from rag.answering.guard.core import Guard, GuardPolicy, SentenceVerdict
from rag.domain.types import GuardProblem
from tests.fakes import HashEmbedder

AS_OF = datetime(2026, 11, 22, 12, tzinfo=UTC)
CARD = "Refunds\n\nPro Annual plans can be refunded in full within 30 days of purchase. Refunds take 5 days."


def answered(answer: str | None, text: str | None = CARD, outcome: Outcome = "answer") -> Observation:
    q = GoldenQuestion(id="q1", question="Refund?", language="en", expected_card_ids=[], expected_outcome=outcome,
                       as_of=AS_OF)  # fmt: skip
    citations = (CheckedCitation(1, "refund", "s", text is not None, True, text),)
    return Observation(Verdict(q, outcome, ("refund",), (), 0.5, 1.0), answer, citations, (), AS_OF, None, None)


def verdict(ok: bool) -> SentenceVerdict:
    return SentenceVerdict("s", "s", (1,), None if ok else GuardProblem.UNSUPPORTED)


def test_supported_share() -> None:
    assert supported_share([verdict(True), verdict(False), verdict(True), verdict(True)]) == 0.75
    assert supported_share([]) is None


def test_offline_faithfulness_checks_sentences_against_the_cited_card_text() -> None:
    metric = OfflineFaithfulness(Guard(HashEmbedder(), GuardPolicy(support_threshold=0.8)))
    quoted = metric.judge(answered("Pro Annual plans can be refunded in full within 30 days of purchase. [1]"))
    assert quoted is not None and [v.ok for v in quoted] == [True]
    doctored = metric.judge(
        answered("Pro Annual plans can be refunded in full within 30 days of purchase. [1] Refunds take 9 days. [1]")
    )
    assert doctored is not None
    assert [v.problem for v in doctored] == [None, GuardProblem.UNSUPPORTED_FACT]
    hidden = metric.judge(answered("Pro Annual plans can be refunded in full within 30 days of purchase. [1]", None))
    assert hidden is not None and hidden[0].problem is GuardProblem.UNKNOWN_CITATION  # no visible card: no support
    assert metric.judge(answered(None, outcome="no_evidence")) is None


def test_offline_score_is_the_mean_and_the_share_fully_supported() -> None:
    assert OfflineFaithfulness.score({"q1": 1.0, "q2": 0.5, "q3": None}) == {
        "faithfulness.offline": 0.75,
        "faithfulness.offline_all_supported": 0.5,
    }
    assert OfflineFaithfulness.score({}) == {"faithfulness.offline": None, "faithfulness.offline_all_supported": None}


def test_agreement_between_the_offline_score_and_the_judge() -> None:
    offline: dict[str, float | None] = {"a": 1.0, "b": 1.0, "c": 0.0, "d": 1.0}
    judged: dict[str, float | None] = {"a": 0.9, "b": 0.2, "c": 0.1, "d": None}
    agreed = agreement(offline, judged)
    assert (agreed.both, agreed.agree) == (3, 2)
    assert agreed.rate == pytest.approx(2 / 3)
    assert agreed.mean_abs_diff == pytest.approx((0.1 + 0.8 + 0.1) / 3)
    scores = ragas_scores(judged, offline)
    assert scores["faithfulness.ragas"] == pytest.approx(0.4)
    assert scores["faithfulness.ragas_scored"] == 3
    assert scores["faithfulness.ragas_failed"] == 1
    assert agreement({}, {}).rate is None


def test_the_replayed_rule_is_verity_s_decide() -> None:
    assert answers_at(0.30, None, threshold=0.28, margin=0.02)
    assert not answers_at(0.27, None, threshold=0.28, margin=0.02)
    assert answers_at(0.30, 0.32, threshold=0.28, margin=0.02)  # within the margin
    assert not answers_at(0.30, 0.33, threshold=0.28, margin=0.02)  # an untrusted card is clearly better
    assert not answers_at(None, 0.9, threshold=0.0, margin=1.0)


def test_tradeoff_curve_moves_answer_and_wrong_answer_rates_together() -> None:
    points = [(0.5, None, False), (0.3, None, False), (0.25, None, True), (0.6, 0.9, True)]
    curve = tradeoff(points, [0.2, 0.28, 0.4, 0.7], margin=0.02)
    assert [(p.threshold, p.answer_rate, p.wrong_answer_rate) for p in curve] == [
        (0.2, 1.0, 0.5),
        (0.28, 1.0, 0.0),
        (0.4, 0.5, 0.0),
        (0.7, 0.0, 0.0),
    ]


def test_replay_agreement_compares_the_rule_with_what_verity_did() -> None:
    def obs(outcome: Outcome, best: float) -> Observation:
        o = answered("x [1]" if outcome == "answer" else None, outcome=outcome)
        return Observation(o.verdict, o.answer, o.citations, (), AS_OF, best, None)

    assert replay_agreement([obs("answer", 0.5), obs("no_evidence", 0.1)], threshold=0.28, margin=0.02) == 1.0
    assert replay_agreement([obs("answer", 0.1), obs("no_evidence", 0.1)], threshold=0.28, margin=0.02) == 0.5
