"""Language codes and identification: no optional field decides how a card or a question is scored."""

from __future__ import annotations

import pytest

from ingest.chunking import Chunker
from ingest.pipeline import Ingestor
from ingest.sources import Location, ParsedCard
from rag.config import Settings
from rag.retrieval.languages import KNOWN_CODES, LanguageIdentifier, card_language, normalise
from tests.builders import make_card
from tests.fakes import HashEmbedder, InMemoryCardIndex


@pytest.mark.parametrize(
    ("written", "code"),
    [("pt-BR", "pt"), ("deu", "de"), ("zh-Hans", "zh"), ("no", "nb"), ("EN", "en"), ("uk_UA", "uk"), ("", None)],
)
def test_every_spelling_of_a_language_is_one_code(written: str, code: str | None) -> None:
    assert normalise(written) == code


def test_an_unknown_tag_keeps_its_primary_subtag() -> None:
    assert normalise("xx-YY") == "xx" and "xx" not in KNOWN_CODES


def test_the_reference_languages_include_the_support_desks() -> None:
    assert {"en", "tr", "vi", "pt", "uk", "de", "es", "ru", "zh", "ja", "ar"} <= KNOWN_CODES
    assert len(KNOWN_CODES) == 113  # Tatoeba's 112 and English


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Müşterinin kartı E-4012 hatası ile reddedildi, ne yapmalıyım?", "tr"),
        ("Khách chưa nhận được mã theo dõi đơn Orbita Hub.", "vi"),
        ("Por quanto tempo vale o link de redefinição de senha?", "pt"),
        ("Скільки коштує запасний адаптер живлення?", "uk"),
        ("Who do we page when a SEV1 incident is declared?", "en"),
    ],
)
def test_questions_are_identified(identifier: LanguageIdentifier, text: str, code: str) -> None:
    assert identifier.detect(text) == code


@pytest.mark.parametrize("text", ["E-4012", "OK", "", "   ", "123"])
def test_too_little_text_is_not_guessed(identifier: LanguageIdentifier, text: str) -> None:
    assert identifier.detect(text) is None


def test_a_cards_own_language_overrides_detection() -> None:
    card = make_card(id="c", title="Reembolsos", body="O reembolso chega em dez dias úteis.", language="tr")
    assert card_language(card, lambda _text: "pt") == "tr"
    assert card_language(make_card(id="d", title="T", body="B", language=None), lambda _text: "pt") == "pt"
    assert card_language(make_card(id="d", title="T", body="B", language=None), None) is None


def test_ingest_stores_the_detected_language_of_cards_without_one() -> None:
    index = InMemoryCardIndex()
    chunker = Chunker(Settings().chunk_size, Settings().chunk_overlap)
    detected: list[str] = []

    def detect(text: str) -> str:
        detected.append(text)
        return "pt"

    ingestor = Ingestor(index, HashEmbedder(), chunker, 8, detect)
    cards = [make_card(id="plain", title="Reembolso", body="O reembolso chega em dez dias úteis.", language=None)]
    cards.append(make_card(id="stated", title="Refunds", body="Refunds arrive in ten days.", language="en"))
    assert ingestor.run(ParsedCard(c, Location("x")) for c in cards).ok
    stored = {facts.card_id: facts.language for _, _, facts in index.records.values()}
    assert stored == {"plain": "pt", "stated": "en"}
    assert len(detected) == 1 and detected[0].startswith("Reembolso")
