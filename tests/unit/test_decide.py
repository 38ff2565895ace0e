from rag.evidence import CardEvidence
from rag.service import AskPolicy, decide
from rag.trust import TrustStatus
from tests.unit.test_answering import card

POLICY = AskPolicy(relevance_threshold=0.3, untrusted_margin=0.02)


def cards(*pairs: tuple[str, float], trust: TrustStatus = TrustStatus.VERIFIED) -> list[CardEvidence]:
    return [card(card_id, trust, score) for card_id, score in pairs]


def test_answers_from_every_trusted_card_above_the_threshold() -> None:
    decision = decide(cards(("a", 0.5), ("b", 0.31), ("c", 0.29)), [], POLICY)
    assert [c.facts.card_id for c in decision.answer_from] == ["a", "b"]
    assert decision.refuse_with == ()


def test_nothing_above_the_threshold_is_no_evidence() -> None:
    decision = decide(cards(("a", 0.29)), cards(("u", 0.1), trust=TrustStatus.UNVERIFIED), POLICY)
    assert decision.answer_from == ()
    assert decision.refuse_with == ()


def test_a_clearly_better_untrusted_card_wins_over_a_loosely_related_verified_one() -> None:
    decision = decide(cards(("a", 0.40)), cards(("u", 0.55), trust=TrustStatus.EXPIRED), POLICY)
    assert decision.answer_from == ()
    assert [c.facts.card_id for c in decision.refuse_with] == ["u"]


def test_a_verified_card_within_the_margin_still_answers() -> None:
    decision = decide(cards(("a", 0.50)), cards(("u", 0.515), trust=TrustStatus.UNVERIFIED), POLICY)
    assert [c.facts.card_id for c in decision.answer_from] == ["a"]
