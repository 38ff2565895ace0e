from dataclasses import replace
from datetime import timedelta

import pytest

from rag.bootstrap import ask_policy
from rag.config import Settings
from rag.domain.errors import VerityError
from rag.domain.trust import TrustStatus
from rag.domain.types import Asker, RefusalReason
from rag.ports import TrustFilter
from rag.services.ask import AskPolicy
from tests.builders import make_card
from tests.unit.conftest import BATTERY, CHARGEBACK, EXPORT, NOW, REFUND, World

PUBLIC = Asker()
FINANCE = Asker(groups=frozenset({"finance"}))


def test_a_verified_card_answers_with_its_own_sentence_and_a_citation(world: World) -> None:
    world.ingest(REFUND, BATTERY)
    result = world.verity.ask("Can Pro Annual plans be refunded within 30 days?", PUBLIC)
    assert result.answer is not None
    assert result.refusal is None
    assert result.answer.text.startswith("Pro Annual plans can be refunded in full within 30 days of purchase. [1]")
    citation = result.answer.citations[0]
    assert (citation.card_id, citation.verifier) == ("refund", "verifier@orbita.example")
    assert citation.verified_until == REFUND.verified_until
    for sentence in result.answer.sentences:
        assert sentence.text in REFUND.body


def test_the_gate_reads_the_clock_at_query_time_without_reingest(world: World) -> None:
    world.ingest(REFUND)
    question = "Can Pro Annual plans be refunded within 30 days?"
    assert world.verity.ask(question, PUBLIC).answer is not None  # 89 days into a 90-day interval
    world.clock.set(NOW + timedelta(days=2))  # 91 days
    result = world.verity.ask(question, PUBLIC)
    assert result.answer is None
    assert result.refusal is not None
    assert result.refusal.reason is RefusalReason.ONLY_EXPIRED
    assert [(c.card_id, c.status) for c in result.refusal.candidates] == [("refund", TrustStatus.EXPIRED)]


def test_only_unverified_evidence_is_refused_and_its_text_never_appears(world: World) -> None:
    world.ingest(REFUND, BATTERY)
    result = world.verity.ask("How is the hub battery replaced by the customer?", PUBLIC)
    assert result.refusal is not None
    assert result.refusal.reason is RefusalReason.ONLY_UNVERIFIED
    candidate = result.refusal.candidates[0]
    assert (candidate.card_id, candidate.verifier, candidate.owner) == (
        "battery",
        "verifier@orbita.example",
        "owner@orbita.example",
    )
    assert "screwdriver" not in repr(result)


def test_only_expired_evidence_is_refused(world: World) -> None:
    world.ingest(EXPORT)
    result = world.verity.ask("How many rows can a data export hold?", PUBLIC)
    assert result.refusal is not None
    assert result.refusal.reason is RefusalReason.ONLY_EXPIRED
    assert "million" not in repr(result)


def test_an_off_topic_question_is_refused_not_answered_with_the_nearest_card(world: World) -> None:
    world.ingest(REFUND, BATTERY, EXPORT)
    result = world.verity.ask("What is the weather like in Lisbon tomorrow?", PUBLIC)
    assert result.refusal is not None
    assert result.refusal.reason is RefusalReason.NO_EVIDENCE
    assert result.refusal.candidates == ()


def test_a_restricted_card_is_invisible_without_its_group(world: World) -> None:
    world.ingest(CHARGEBACK)
    question = "Within how many days does finance answer chargeback disputes?"
    refused = world.verity.ask(question, PUBLIC)
    assert refused.refusal is not None
    assert refused.refusal.reason is RefusalReason.NO_EVIDENCE
    assert "chargeback" not in repr(refused.refusal).lower()
    assert world.verity.search(question, PUBLIC).hits == ()
    answered = world.verity.ask(question, FINANCE)
    assert answered.answer is not None
    assert answered.answer.citations[0].card_id == "chargeback"


def test_every_store_query_carries_the_askers_groups(world: World) -> None:
    world.ingest(REFUND, CHARGEBACK, BATTERY)
    world.verity.ask("chargeback disputes", FINANCE)
    world.verity.ask("hub battery", PUBLIC)
    assert world.index.queries
    assert all(q.asker in (FINANCE, PUBLIC) for q in world.index.queries)
    assert {q.trust for q in world.index.queries} == {TrustFilter.ANY}  # one query; trust decided per record


def test_untrusted_records_crowding_a_full_result_do_not_hide_a_trusted_card(world: World) -> None:
    drafts = [
        make_card(id=f"draft-{i}", title="Hub battery replacement", body=BATTERY.body, state="unverified")
        for i in range(30)
    ]
    verified = make_card(id="verified", title="Hub battery", body="The hub battery is replaced by our support team.")
    world.ingest(*drafts, verified)
    question = "hub battery replacement"
    trusted, untrusted = world.verity.rank_cards(question, world.embedder.embed_query(question), PUBLIC, NOW, 1)
    assert [c.facts.card_id for c in trusted] == ["verified"]
    assert untrusted[0].facts.card_id.startswith("draft-")
    assert [q.trust for q in world.index.queries] == [TrustFilter.ANY, TrustFilter.TRUSTED]


def test_search_shows_trust_and_snippets_only_for_trusted_cards(world: World) -> None:
    world.ingest(REFUND, BATTERY, EXPORT)
    hits = {h.facts.card_id: h for h in world.verity.search("hub battery refund export", PUBLIC, top_k=5).hits}
    assert hits["refund"].trust is TrustStatus.VERIFIED
    assert hits["refund"].snippet
    assert hits["battery"].trust is TrustStatus.UNVERIFIED
    assert hits["battery"].snippet is None
    assert hits["export"].trust is TrustStatus.EXPIRED
    assert hits["export"].snippet is None


def test_search_reports_the_confidence_ask_decides_on(world: World) -> None:
    """Hits are ordered by the ranking score; `relevance` is the confidence the answer/refuse rule compares."""
    world.ingest(REFUND, BATTERY, EXPORT)
    question = "hub battery refund export"
    trusted, untrusted = world.verity.rank_cards(question, world.embedder.embed_query(question), PUBLIC, NOW, 5)
    confidence = {c.facts.card_id: round(c.confidence, 4) for c in [*trusted, *untrusted]}
    hits = world.verity.search(question, PUBLIC, top_k=5).hits
    assert {h.facts.card_id: h.relevance for h in hits} == confidence
    assert all(0.0 <= h.relevance <= 1.0 for h in hits)
    assert [h.rank_score for h in hits] == sorted((h.rank_score for h in hits), reverse=True)


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_questions_raise_a_typed_error(world: World, question: str) -> None:
    with pytest.raises(VerityError):
        world.verity.ask(question, PUBLIC)


def test_top_k_out_of_range_is_refused(world: World) -> None:
    with pytest.raises(VerityError):
        world.verity.search("refund", PUBLIC, top_k=0)


def test_a_policy_built_without_settings_ranks_and_answers_like_the_default_settings() -> None:
    """AskPolicy's defaults are Settings' own; only the bar differs: Settings leaves it to the decision model."""
    defaults = ask_policy(Settings.model_construct())  # field defaults only, no environment
    assert replace(defaults, answer_confidence=AskPolicy().answer_confidence) == AskPolicy()
