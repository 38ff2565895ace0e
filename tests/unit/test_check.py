"""Checking a reply someone wrote: `Verity.check_reply`, `POST /v1/check` and `verity check`, over the unit world's
fakes (a bag-of-words embedder: a sentence copied from a card is fully supported by it)."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.cli import build_parser
from api.cli.query import reply_text, run_check
from api.schemas import CheckPublic
from rag.answering.checking import MAX_SENTENCES, CheckResult, CheckStatus
from rag.answering.extractive import ExtractivePolicy
from rag.answering.guard.embed_cache import RememberingEmbedder
from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker
from rag.ports import Embedder, Vectors
from rag.services.ask import AskPolicy, Verity
from rag.services.limits import limited
from tests.builders import make_card
from tests.fakes import HashEmbedder, plain_calibration
from tests.unit.conftest import BATTERY, CHARGEBACK, EXPORT, NOW, REFUND, World

PUBLIC = Asker()
FINANCE = Asker(groups=frozenset({"finance"}))
REFUND_SENTENCE = "Pro Annual plans can be refunded in full within 30 days of purchase."
WRONG_NUMBER = "Pro Annual plans can be refunded in full within 45 days of purchase."
INVENTED = "Our office cat is called Biscuit and loves Mondays."
ESCALATION = "Escalations after midnight go to the duty manager on the internal bridge line."
CHARGEBACK_SENTENCE = "Chargeback disputes are answered by finance within seven days of the bank notice."
INTERNAL = make_card(
    id="internal",
    title="Escalation contacts",
    body=ESCALATION,
    internal_only=True,
    verified_at=NOW - timedelta(days=1),
)


def statuses(result: CheckResult) -> list[str]:
    return [s.status.value for s in result.sentences]


def card_ids(result: CheckResult) -> set[str]:
    return {c.card_id for s in result.sentences for c in s.cards}


def test_each_sentence_is_supported_not_supported_or_not_covered(world: World) -> None:
    world.ingest(REFUND)
    result = world.verity.check_reply(f"{REFUND_SENTENCE} [3] {WRONG_NUMBER}\n\n{INVENTED}", PUBLIC)
    supported, wrong, invented = result.sentences
    assert statuses(result) == ["supported", "not_supported", "not_covered"]

    assert supported.text == f"{REFUND_SENTENCE} [3]"  # as written
    [card] = supported.cards
    assert (card.card_id, card.title, card.url, card.collection) == (
        "refund",
        REFUND.title,
        REFUND.url,
        REFUND.collection,
    )
    assert (card.verifier, card.verified_at, card.verified_until) == (
        REFUND.verifier,
        REFUND.verified_at,
        REFUND.verified_until,
    )
    [words] = card.evidence
    assert REFUND_SENTENCE in words and words in REFUND.body  # the card's exact words
    assert card.quotable_to_customer and supported.quotable_to_customer
    assert supported.reason is None

    assert wrong.reason == "unsupported_fact" and "45" in wrong.detail
    assert [(c.card_id, c.evidence) for c in wrong.cards] == [("refund", ())]  # what it was checked against

    assert invented.cards == () and invented.reason is None

    summary = result.summary
    assert (summary.sentences, summary.supported, summary.not_supported, summary.not_covered) == (3, 1, 1, 1)
    assert not summary.quotable
    assert result.as_of == NOW
    assert {"embed_ms", "retrieve_ms", "check_ms", "total_ms"} <= set(result.timings_ms)


def test_markers_in_a_pasted_reply_are_ignored(world: World) -> None:
    """A pasted reply's [n] refer to nothing: "[7]" is no unknown citation, and it finds the card all the same."""
    world.ingest(REFUND)
    result = world.verity.check_reply(f"[7] {REFUND_SENTENCE} [12]", PUBLIC)
    assert statuses(result) == ["supported"]
    assert result.summary.quotable


def test_an_unverified_or_expired_card_never_supports_a_sentence_and_never_shows(world: World) -> None:
    world.ingest(REFUND, BATTERY, EXPORT)
    reply = f"{BATTERY.body} {EXPORT.body} {REFUND_SENTENCE}"
    result = world.verity.check_reply(reply, PUBLIC)
    assert statuses(result) == ["not_covered", "not_covered", "supported"]
    assert card_ids(result) == {"refund"}
    shown = repr(result).replace(BATTERY.body, "").replace(EXPORT.body, "")  # the reply's own words aside
    for trace in ("'battery'", "'export'", BATTERY.title, EXPORT.title, "screwdriver", "million"):
        assert str(trace) not in shown

    world.clock.set(NOW + timedelta(days=2))  # the refund card's verification runs out: checked at query time
    later = world.verity.check_reply(reply, PUBLIC)
    assert statuses(later) == ["not_covered"] * 3
    assert card_ids(later) == set()


def test_a_card_of_a_group_the_asker_is_not_in_never_shows(world: World) -> None:
    world.ingest(REFUND, CHARGEBACK)
    reply = f"{CHARGEBACK_SENTENCE} {REFUND_SENTENCE}"
    public = world.verity.check_reply(reply, PUBLIC)
    assert statuses(public) == ["not_covered", "supported"]
    shown = repr(public).replace(CHARGEBACK_SENTENCE, "")
    assert "'chargeback'" not in shown and CHARGEBACK.title not in shown

    without = World()  # the same reply where the card does not exist at all: nothing tells the two apart
    without.ingest(REFUND)
    missing = without.verity.check_reply(reply, PUBLIC)
    assert public.sentences == missing.sentences
    assert public.summary == missing.summary

    finance = world.verity.check_reply(reply, FINANCE)
    assert statuses(finance) == ["supported", "supported"]
    assert finance.sentences[0].cards[0].card_id == "chargeback"


def test_an_internal_note_supports_a_sentence_for_the_agent_but_not_for_a_customer(world: World) -> None:
    world.ingest(REFUND, INTERNAL)
    result = world.verity.check_reply(f"{REFUND_SENTENCE} {ESCALATION}", PUBLIC)
    public, internal = result.sentences
    assert statuses(result) == ["supported", "supported"]
    assert public.quotable_to_customer
    [note] = internal.cards
    assert note.card_id == "internal" and note.internal_only and not note.quotable_to_customer
    assert note.evidence == (ESCALATION,)  # the card's only sentence
    assert not internal.quotable_to_customer
    assert result.summary.supported == 2 and not result.summary.quotable


def test_a_shareable_card_that_says_the_same_as_an_internal_note_makes_the_sentence_quotable(world: World) -> None:
    shared = make_card(id="escalations-public", title="Escalation contacts for customers", body=ESCALATION)
    world.ingest(INTERNAL, shared)
    result = world.verity.check_reply(ESCALATION, PUBLIC)
    [sentence] = result.sentences
    assert sentence.status is CheckStatus.SUPPORTED
    assert "escalations-public" in {c.card_id for c in sentence.cards if c.evidence}
    assert sentence.quotable_to_customer and result.summary.quotable


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "the reply is empty"),
        ("   \n ", "the reply is empty"),
        ("[1] [2]", "no sentence to check"),
        ("x" * 2001, "the limit is 2000"),
        (" ".join(f"Sentence number {n} is here." for n in range(MAX_SENTENCES + 1)), "the limit is 40"),
    ],
)
def test_a_reply_that_cannot_be_checked_is_an_invalid_request(world: World, reply: str, message: str) -> None:
    world.ingest(REFUND)
    with pytest.raises(VerityError) as refused:
        world.verity.check_reply(reply, PUBLIC)
    assert refused.value.code is ErrorCode.INVALID_REQUEST
    assert message in refused.value.message


def test_top_k_out_of_range_is_refused(world: World) -> None:
    with pytest.raises(VerityError, match="top_k"):
        world.verity.check_reply(REFUND_SENTENCE, PUBLIC, top_k=0)


class Counting(HashEmbedder):
    """Records every batch of queries and passages it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.query_batches: list[list[str]] = []
        self.passage_batches: list[list[str]] = []

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.query_batches.append(list(texts))
        return super().embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.passage_batches.append(list(texts))
        return super().embed_passages(texts)


def verity_over(world: World, embedder: Embedder) -> Verity:
    policy = AskPolicy(top_k=5, extractive=ExtractivePolicy(max_sentences=2, margin=0.05))
    return Verity(world.index, embedder, world.clock, policy, None, plain_calibration(0.35))


def test_the_sentences_are_embedded_in_one_batch_and_card_sentences_once(world: World) -> None:
    world.ingest(REFUND)
    embedder = Counting()
    verity = verity_over(world, embedder)
    reply = f"{REFUND_SENTENCE} Refunds reach the customer card within 10 business days. {WRONG_NUMBER}"
    first = verity.check_reply(reply, PUBLIC)
    assert embedder.query_batches[0] == [s.text for s in first.sentences]  # every sentence, one batch
    embedded = sum(len(b) for b in embedder.passage_batches)
    again = verity.check_reply(reply, PUBLIC)
    assert again.sentences == first.sentences
    assert sum(len(b) for b in embedder.passage_batches) == embedded  # the card's sentences were remembered


def test_the_guard_embedder_embeds_each_text_once_while_it_is_remembered() -> None:
    inner = Counting()
    remembering = RememberingEmbedder(inner, size=2)
    first = remembering.embed_passages(["a b", "c d", "a b"])
    assert inner.passage_batches == [["a b", "c d"]]  # a repeated text is embedded once
    assert np.array_equal(first, inner.embed_passages(["a b", "c d", "a b"]))  # the model's own vectors, in order
    inner.passage_batches.clear()
    remembering.embed_passages(["e f"])  # the least recently used ("a b") is forgotten
    remembering.embed_passages(["c d", "a b"])
    assert inner.passage_batches == [["e f"], ["a b"]]
    remembering.remember_queries(["g h"], inner.embed_queries(["g h"]))
    inner.query_batches.clear()
    remembering.embed_queries(["g h"])
    assert inner.query_batches == []  # queries and passages are remembered apart
    assert remembering.embed_passages([]).shape == (0, inner.dim)


def test_under_the_limits_a_reply_costs_at_most_what_a_customer_message_may(world: World) -> None:
    world.ingest(REFUND)
    config = Settings(max_question_tokens=12, max_message_tokens=40)
    verity = verity_over(world, limited(world.embedder, config))
    two = f"{REFUND_SENTENCE} {REFUND_SENTENCE}"  # more than a question may have, less than a message
    assert statuses(verity.check_reply(two, PUBLIC)) == ["supported", "supported"]
    with pytest.raises(VerityError, match=r"the reply has \d+ tokens; the limit is 40"):
        verity.check_reply(" ".join([REFUND_SENTENCE] * 4), PUBLIC)


# ---- HTTP


def test_post_check_answers_sentence_by_sentence(client: TestClient) -> None:
    response = client.post("/v1/check", json={"text": f"{REFUND_SENTENCE} [1] {ESCALATION} {INVENTED}"})
    assert response.status_code == 200
    body = response.json()
    assert [s["status"] for s in body["sentences"]] == ["supported", "supported", "not_covered"]
    refund, internal, invented = body["sentences"]
    assert refund["text"] == f"{REFUND_SENTENCE} [1]"
    assert refund["quotable_to_customer"] is True
    card = refund["cards"][0]
    assert set(card) == {
        "card_id",
        "title",
        "url",
        "collection",
        "verifier",
        "verified_at",
        "verified_until",
        "internal_only",
        "quotable_to_customer",
        "evidence",
    }
    assert (card["card_id"], card["quotable_to_customer"]) == ("refund", True)
    assert REFUND_SENTENCE in card["evidence"][0] and card["evidence"][0] in REFUND.body
    assert internal["cards"][0]["internal_only"] is True and internal["quotable_to_customer"] is False
    assert invented == {
        "text": INVENTED,
        "status": "not_covered",
        "reason": None,
        "detail": "",
        "quotable_to_customer": False,
        "cards": [],
    }
    assert body["summary"] == {
        "sentences": 3,
        "supported": 2,
        "not_supported": 0,
        "not_covered": 1,
        "quotable": False,
    }
    assert set(body) == {"sentences", "summary", "as_of", "timings_ms"}


def test_post_check_names_the_reason_a_sentence_is_not_supported(client: TestClient) -> None:
    body = client.post("/v1/check", json={"text": WRONG_NUMBER}).json()
    [sentence] = body["sentences"]
    assert (sentence["status"], sentence["reason"]) == ("not_supported", "unsupported_fact")
    assert [c["card_id"] for c in sentence["cards"]] == ["refund"]


def test_post_check_groups_open_restricted_cards(client: TestClient) -> None:
    public = client.post("/v1/check", json={"text": CHARGEBACK_SENTENCE}).json()
    assert public["sentences"][0]["status"] == "not_covered"
    assert "Chargeback handling" not in json.dumps(public)
    finance = client.post("/v1/check", json={"text": CHARGEBACK_SENTENCE, "groups": ["finance"]}).json()
    assert finance["sentences"][0]["cards"][0]["card_id"] == "chargeback"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({}, "body.text"),
        ({"text": ""}, "body.text"),
        ({"text": "   "}, "body.text"),  # blank is schema-invalid (pattern NOT_BLANK)
        ({"text": "ok", "top_k": 0}, "body.top_k"),
        ({"text": "ok", "colour": "blue"}, "body.colour"),
        ({"text": "A sentence here. " * (MAX_SENTENCES + 1)}, "the limit is 40"),
    ],
)
def test_post_check_refuses_what_it_cannot_check_with_a_422_problem(
    client: TestClient, payload: dict[str, object], words: str
) -> None:
    response = client.post("/v1/check", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_request"
    assert words in response.text


def test_the_openapi_document_describes_check_and_its_problems(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/check"]["post"]
    assert {"200", "401", "403", "413", "422", "429", "503"} <= set(operation["responses"])
    assert "application/problem+json" in operation["responses"]["422"]["content"]


# ---- the command line


def cli_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["check", *argv])


def test_verity_check_exits_0_when_every_sentence_is_supported_and_1_otherwise(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.ingest(REFUND, INTERNAL)
    assert run_check(cli_args(REFUND_SENTENCE), world.verity, io.StringIO()) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"SUPPORTED      {REFUND_SENTENCE}")
    assert "Refunds for Pro Annual plans (refund)" in out and f'"{REFUND_SENTENCE}"' in out
    assert "1 sentences: 1 supported, 0 not supported, 0 not covered; quotable to a customer" in out

    assert run_check(cli_args(f"{WRONG_NUMBER} {INVENTED} {ESCALATION}"), world.verity, io.StringIO()) == 1
    out = capsys.readouterr().out
    assert "NOT SUPPORTED  " in out and "why: unsupported_fact" in out
    assert "NOT COVERED    " in out
    assert "INTERNAL ONLY: not for the customer" in out
    assert out.rstrip().endswith("not quotable to a customer as it is")


def test_verity_check_reads_standard_input_and_prints_the_apis_json(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.ingest(REFUND)
    assert run_check(cli_args("--json"), world.verity, io.StringIO(f"{REFUND_SENTENCE}\n{INVENTED}\n")) == 1
    printed = CheckPublic.model_validate_json(capsys.readouterr().out)
    assert [s.status for s in printed.sentences] == ["supported", "not_covered"]
    assert reply_text("-", io.StringIO("from stdin")) == "from stdin"
    assert reply_text("given", io.StringIO("ignored")) == "given"


def test_verity_check_without_a_reply_says_how_to_give_one(world: World) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with pytest.raises(VerityError, match="standard input"):
        run_check(cli_args(), world.verity, Terminal())
    with pytest.raises(VerityError, match="the reply is empty"):
        run_check(cli_args(""), world.verity, io.StringIO())
