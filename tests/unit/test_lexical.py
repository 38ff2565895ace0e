from rag.lexical import LexicalIndex, tokenize
from rag.types import Asker
from tests.fakes import make_card
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
