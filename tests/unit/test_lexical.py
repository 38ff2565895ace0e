from dataclasses import replace

import pytest

from rag.domain.types import Asker
from rag.retrieval.lexical import LexicalIndex, identifiers, tokenize
from tests.builders import make_card
from tests.unit.conftest import World


def test_tokens_keep_codes_whole_and_in_parts_across_scripts() -> None:
    assert tokenize("Lỗi E-4012 với OH-200-PWR, İstanbul; Київ") == [
        "lỗi",
        "e-4012",
        "e",
        "4012",
        "với",
        "oh-200-pwr",
        "oh",
        "200",
        "pwr",
        "istanbul",
        "київ",
    ]


def test_bm25_finds_the_exact_code_and_nothing_for_unknown_words() -> None:
    index = LexicalIndex(
        ["a", "b", "c"], ["Error E-4012: declined by the issuer.", "Hub OH-200 setup.", "Pro Annual refunds."]
    )
    assert [h.record_id for h in index.search("what does e-4012 mean", 3)] == ["a"]
    assert index.search("completely unrelated words", 3) == []
    assert LexicalIndex([], []).search("anything", 3) == []


def test_an_exact_term_lifts_its_card_above_a_denser_neighbour(world: World) -> None:
    world.ingest(
        make_card(id="code", title="Payment errors", body="Error E-4012 means the issuer declined the payment."),
        make_card(id="near", title="Payment errors in general", body="Payment errors mean the payment failed."),
    )
    hits = world.verity.search("E-4012 payment errors", Asker()).hits
    assert hits[0].facts.card_id == "code"


def test_lexical_hits_are_fetched_within_the_askers_scope(world: World) -> None:
    world.ingest(
        make_card(
            id="secret", title="Chargebacks", body="Chargeback code CB-77 is handled by finance.", groups=["finance"]
        )
    )
    assert world.verity.search("CB-77", Asker()).hits == ()
    assert [h.facts.card_id for h in world.verity.search("CB-77", Asker(frozenset({"finance"}))).hits] == ["secret"]
    assert world.index.lexical_index().search("CB-77", 3)  # the lexical index knows it; the scope hides it


def test_identifiers_are_codes_not_plain_numbers_or_words() -> None:
    assert identifiers("Lỗi E-4012 sau 30 ngày, OH-200-PWR, sku123, 3-D Secure, 2026, v2") == [
        "e-4012",
        "oh-200-pwr",
        "sku123",
        "3-d",
    ]
    assert identifiers("Can I get a refund within thirty days?") == []


def test_holders_are_records_with_the_whole_token() -> None:
    index = LexicalIndex(["a", "b", "c"], ["Error E-4012 declined.", "Error E-4013 expired.", "See E-4012 and E-4013."])
    assert sorted(index.holders("e-4012", 5)) == ["a", "c"]
    assert index.holders("e-401", 5) == []
    assert LexicalIndex([], []).holders("e-4012", 5) == []


def test_an_exact_identifier_outweighs_a_look_alike_code_but_not_visibility(world: World) -> None:
    world.ingest(
        make_card(id="e7121", title="Payment error E-7121", body="Error E-7121 is raised when the plan changed."),
        make_card(id="e7130", title="Payment error E-7130", body="Error E-7130 is raised when the limit is hit."),
        make_card(id="e7199", title="Payment error E-7199", body="Error E-7199 means fraud.", groups=["finance"]),
    )
    dense = world.verity.with_policy(replace(world.verity.policy, lexical_weight=0.0, exact_term_weight=0.0))
    exact = world.verity.with_policy(replace(world.verity.policy, lexical_weight=0.0, exact_term_weight=0.15))
    for question, holder in (("Müşteri E-7130 hatası alıyor", "e7130"), ("Customer sees E-7121 or E-4444", "e7121")):
        share = 0.15 if "E-4444" not in question else 0.075  # the card holds one of the question's two codes
        before = {h.facts.card_id: h.rank_score for h in dense.search(question, Asker()).hits}
        after = {h.facts.card_id: h.rank_score for h in exact.search(question, Asker()).hits}
        assert after[holder] == pytest.approx(before[holder] + share, abs=2e-4)
        assert all(after[c] == pytest.approx(before[c], abs=2e-4) for c in before if c != holder)
        assert exact.search(question, Asker()).hits[0].facts.card_id == holder
    assert "e7199" not in {h.facts.card_id for h in world.verity.search("E-7199", Asker()).hits}
