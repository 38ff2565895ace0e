"""The extractive answerer and the refusal policy are pure functions: tested without any store or model."""

from datetime import UTC, datetime

import pytest

from rag.answering.extractive import ExtractivePolicy, compose_answer, select_sentences
from rag.domain.cards import CardState
from rag.domain.trust import NEVER_EXPIRES_EPOCH, NOT_VERIFIED_EPOCH, TrustStatus
from rag.domain.types import CardFacts, Evidence, RecordKind, RefusalReason
from rag.retrieval.evidence import CardEvidence
from rag.retrieval.refusals import refuse


def facts(card_id: str, state: CardState = CardState.VERIFIED, until: int = NEVER_EXPIRES_EPOCH) -> CardFacts:
    return CardFacts(
        card_id=card_id,
        title=f"Title {card_id}",
        collection="billing",
        url=f"https://kb.example/{card_id}",
        owner="owner@x",
        verifier="verifier@x",
        state=state,
        verified_at=datetime(2026, 1, 1, tzinfo=UTC) if state is CardState.VERIFIED else None,
        verified_until_epoch=until,
        language="en",
        internal_only=False,
        groups=(),
        content_hash="c",
        meta_hash="m",
    )


def sentence(card_id: str, text: str, centred: float, trust: TrustStatus = TrustStatus.VERIFIED) -> Evidence:
    return Evidence(f"{card_id}:{text}", RecordKind.SENTENCE, text, centred, facts(card_id), trust)


def test_best_sentence_comes_first_and_weak_ones_are_left_out() -> None:
    chosen = select_sentences(
        [sentence("a", "Second best.", 0.88), sentence("a", "Best.", 0.90), sentence("b", "Weak.", 0.80)],
        ExtractivePolicy(max_sentences=3, margin=0.03),
    )
    assert [e.text for e in chosen] == ["Best.", "Second best."]


def test_no_more_than_max_sentences_and_no_duplicates() -> None:
    same = [sentence("a", "Same text.", 0.9), sentence("b", "same   TEXT.", 0.9)]
    others = [sentence("c", f"Other {i}.", 0.9 - i / 1000) for i in range(5)]
    chosen = select_sentences(same + others, ExtractivePolicy(max_sentences=3, margin=0.1))
    assert len(chosen) == 3
    assert sum(1 for e in chosen if e.text.lower().split() == ["same", "text."]) == 1


def test_markers_follow_first_appearance_and_citations_quote_the_cards() -> None:
    chosen = [sentence("b", "From B.", 0.9), sentence("a", "From A.", 0.89), sentence("b", "More B.", 0.88)]
    cards = [
        CardEvidence(facts("a"), TrustStatus.VERIFIED, 0.91, (), confidence=0.73219),
        CardEvidence(facts("b"), TrustStatus.VERIFIED, 0.9, ()),
    ]
    answer = compose_answer(chosen, cards)
    assert answer.text == "From B. [1] From A. [2] More B. [1]"
    assert [(c.marker, c.card_id, c.snippet) for c in answer.citations] == [
        (1, "b", "From B. More B."),
        (2, "a", "From A."),
    ]
    assert answer.citations[0].verified_until is None  # never expires
    assert answer.citations[1].rank_score == 0.91
    assert answer.citations[1].relevance == 0.7322  # the card's confidence, rounded like search's
    assert answer.citations[0].relevance == 0.0


def test_the_answerer_refuses_to_quote_untrusted_evidence() -> None:
    with pytest.raises(ValueError):
        compose_answer([sentence("a", "Old.", 0.9, TrustStatus.EXPIRED)], [])


def card(card_id: str, trust: TrustStatus, rank_score: float, confidence: float = 0.0) -> CardEvidence:
    state = CardState.UNVERIFIED if trust is TrustStatus.UNVERIFIED else CardState.VERIFIED
    until = NOT_VERIFIED_EPOCH if trust is TrustStatus.UNVERIFIED else 1_700_000_000
    return CardEvidence(
        facts(card_id, state, until), trust, rank_score, (), dense_score=rank_score, confidence=confidence
    )


def test_no_candidates_means_no_evidence() -> None:
    refusal = refuse([])
    assert refusal.reason is RefusalReason.NO_EVIDENCE
    assert refusal.candidates == ()


def test_reason_follows_the_most_relevant_candidate_and_all_are_listed() -> None:
    refusal = refuse([card("old", TrustStatus.EXPIRED, 0.85, 0.61234), card("draft", TrustStatus.UNVERIFIED, 0.9)])
    assert refusal.reason is RefusalReason.ONLY_UNVERIFIED
    assert [(c.card_id, c.rank_score, c.relevance) for c in refusal.candidates] == [
        ("draft", 0.9, 0.0),
        ("old", 0.85, 0.6123),
    ]
    assert refusal.candidates[1].verified_until == datetime.fromtimestamp(1_700_000_000, UTC)
    assert refuse([card("old", TrustStatus.EXPIRED, 0.85)]).reason is RefusalReason.ONLY_EXPIRED


def test_refusal_messages_name_no_card_text() -> None:
    refusal = refuse([card("draft", TrustStatus.UNVERIFIED, 0.9)])
    assert "draft" not in refusal.message
    assert "verif" in refusal.message


def test_cards_rank_by_centred_score_plus_affinity_but_relevance_stays_centred() -> None:
    from rag.retrieval.evidence import group_by_card

    a_window = Evidence("a:w", RecordKind.CHUNK, "A window.", 0.50, facts("a"), TrustStatus.VERIFIED, affinity=0.02)
    a_sentence = Evidence("a:s", RecordKind.SENTENCE, "A.", 0.55, facts("a"), TrustStatus.VERIFIED, affinity=-0.10)
    b_window = Evidence("b:w", RecordKind.CHUNK, "B window.", 0.52, facts("b"), TrustStatus.VERIFIED, affinity=0.08)
    cards = group_by_card([a_window, a_sentence, b_window], limit=2, boost={"a": 0.01})
    assert [c.facts.card_id for c in cards] == ["b", "a"]  # 0.60 against max(0.52, 0.45) + 0.01
    assert cards[1].rank_score == pytest.approx(0.53)
    assert cards[1].dense_score == pytest.approx(0.55)  # the best centred score, whatever ranked first
    assert cards[1].evidence[0].record_id == "a:w"  # evidence in ranking order
