"""The one decision rule (rag/retrieval/decision.py): confidences from signals, and answer or refuse on them."""

from dataclasses import replace

import pytest

from rag.domain.trust import TrustStatus
from rag.domain.types import Evidence, RecordKind
from rag.retrieval.decision import SIGNAL_NAMES, DecisionModel, DecisionPolicy, Judge, Scale, Signals, answers, split
from rag.retrieval.evidence import CardEvidence
from rag.retrieval.reference import Anchors
from tests.unit.test_answering import card, facts

POLICY = DecisionPolicy(answer_confidence=0.5, untrusted_margin=0.1)


def judged(card_id: str, confidence: float, trust: TrustStatus = TrustStatus.VERIFIED) -> CardEvidence:
    return replace(card(card_id, trust, confidence), confidence=confidence)


def test_answers_from_every_trusted_card_above_the_bar() -> None:
    answer_from, refuse_with = split([judged("a", 0.9), judged("b", 0.51), judged("c", 0.49)], [], POLICY)
    assert [c.facts.card_id for c in answer_from] == ["a", "b"]
    assert refuse_with == ()


def test_nothing_above_the_bar_is_no_evidence() -> None:
    answer_from, refuse_with = split([judged("a", 0.49)], [judged("u", 0.3, TrustStatus.UNVERIFIED)], POLICY)
    assert answer_from == () and refuse_with == ()


def test_a_clearly_more_confident_untrusted_card_wins_over_a_loosely_related_verified_one() -> None:
    answer_from, refuse_with = split([judged("a", 0.6)], [judged("u", 0.95, TrustStatus.EXPIRED)], POLICY)
    assert answer_from == ()
    assert [c.facts.card_id for c in refuse_with] == ["u"]


def test_a_verified_card_within_the_margin_still_answers() -> None:
    answer_from, _ = split([judged("a", 0.8)], [judged("u", 0.85, TrustStatus.UNVERIFIED)], POLICY)
    assert [c.facts.card_id for c in answer_from] == ["a"]


def test_the_replayed_rule_is_the_rule() -> None:
    assert answers(0.6, None, POLICY) and not answers(0.4, None, POLICY) and not answers(None, 0.9, POLICY)
    assert answers(0.6, 0.7, POLICY) and not answers(0.6, 0.71, POLICY)


def model(**weights: float) -> DecisionModel:
    return DecisionModel(tuple(weights.get(n, 0.0) for n in SIGNAL_NAMES), -5.0, lead_floor=0.2, answer_confidence=0.5)


def test_confidence_is_a_logistic_of_the_signals() -> None:
    m = model(record=10.0)
    assert m.confidence(Signals(0, 0.5, 0, 0, 0, 0)) == pytest.approx(0.5)
    assert m.confidence(Signals(0, 0.9, 0, 0, 0, 0)) > 0.98
    assert m.confidence(Signals(0, 0.1, 0, 0, 0, 0)) < 0.02


def test_a_model_file_round_trips(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "decision.json"
    m = model(record=3.0, lead=2.0)
    m.save(path)
    assert DecisionModel.load(path) == m


def test_the_bundled_model_names_every_signal() -> None:
    m = DecisionModel.bundled()
    assert len(m.weights) == len(SIGNAL_NAMES) and 0 < m.answer_confidence < 1


def sentence(card_id: str, centred: float, language: str = "en") -> Evidence:
    return Evidence(
        f"{card_id}:{centred}",
        RecordKind.SENTENCE,
        "S.",
        centred,
        facts(card_id),
        TrustStatus.VERIFIED,
        language=language,
    )


def card_of(card_id: str, rank_score: float, *sentences: Evidence) -> CardEvidence:
    return CardEvidence(
        facts(card_id), TrustStatus.VERIFIED, rank_score, sentences, dense_score=max(s.centred for s in sentences)
    )


IDENTITY = Scale(Anchors(1.0, 0.0, 1.0, 0.0))


def test_a_card_is_as_confident_as_its_best_quotable_sentence() -> None:
    judge = Judge(model(record=10.0), IDENTITY)
    [c] = judge.judge([card_of("a", 0.9, sentence("a", 0.9), sentence("a", 0.3))], "en")
    assert c.confidence == pytest.approx(c.record_confidences[0]) and c.record_confidences[1] < 0.5


def test_the_lead_is_over_the_best_other_card_or_the_floor() -> None:
    judge = Judge(model(lead=1.0), IDENTITY)
    assert judge.leads([card_of("a", 0.9, sentence("a", 0.9)), card_of("b", 0.6, sentence("b", 0.6))]) == [
        pytest.approx(0.3),
        pytest.approx(-0.3),
    ]
    # one card: measured against the floor (0.2), as if the knowledge base had an unrelated card
    assert judge.leads([card_of("a", 0.9, sentence("a", 0.9))]) == [pytest.approx(0.7)]


def test_same_language_is_read_from_the_record() -> None:
    judge = Judge(model(same_language=1.0), IDENTITY)
    c = card_of("a", 0.9, sentence("a", 0.9, "tr"))
    assert judge.table([c], "tr")[0][0].same_language == 1.0
    assert judge.table([c], "en")[0][0].same_language == 0.0


def test_uncalibrated_only_the_top_card_holding_every_identifier_is_confident() -> None:
    judge = Judge(model(record=10.0), None)
    top = replace(card_of("a", 0.9, sentence("a", 0.9)), identifier_share=1.0)
    other = replace(card_of("b", 0.8, sentence("b", 0.8)), identifier_share=1.0)
    a, b = judge.judge([top, other], "en", ["e-4012"])
    assert a.confidence == 1.0 and b.confidence == 0.0
    [plain] = judge.judge([card_of("a", 0.99, sentence("a", 0.99))], "en", [])
    assert plain.confidence == 0.0  # no identifier: no resemblance is enough without calibration
