"""`ChromaCardIndex.get_visible_card` against real embedded Chroma: visibility is applied in the store query,
and only a card's live version is ever returned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.adapters.chroma.collection import build_client
from rag.adapters.chroma.index import ChromaCardIndex
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.types import Asker, RecordKind
from rag.ports import CardVersion, IndexRecord
from tests.builders import make_card

DIM = 4
ANYONE = Asker()
FINANCE = Asker(frozenset({"finance"}))
LEADS_AND_LEGAL = Asker(frozenset({"support-leads", "legal"}))


def put(index: ChromaCardIndex, card: Card, content: str = "v1") -> None:
    records = [IndexRecord(f"{card.id}::{content}::chunk::0", RecordKind.CHUNK, 0, card.body, "")]
    index.replace_card(card, CardVersion(content, "m"), records, np.eye(DIM, dtype=np.float32)[:1])


@pytest.fixture
def index(tmp_path: Path) -> ChromaCardIndex:
    return ChromaCardIndex(build_client(Settings(data_dir=tmp_path)), "visible-cards", "hand-made", DIM)


def test_a_card_is_returned_only_to_askers_who_may_see_it(index: ChromaCardIndex) -> None:
    public = make_card(id="public")
    finance = make_card(id="finance-only", groups=["finance"])
    shared = make_card(id="finance-or-leads", groups=["finance", "support-leads"])
    for card in (public, finance, shared):
        put(index, card)
    assert [index.get_visible_card("public", a) for a in (ANYONE, FINANCE, LEADS_AND_LEGAL)] == [public] * 3
    assert index.get_visible_card("finance-only", FINANCE) == finance
    assert index.get_visible_card("finance-only", ANYONE) is None
    assert index.get_visible_card("finance-only", LEADS_AND_LEGAL) is None
    assert index.get_visible_card("finance-or-leads", LEADS_AND_LEGAL) == shared
    assert index.get_visible_card("finance-or-leads", ANYONE) is None
    assert index.get_visible_card("no-such-card", FINANCE) is None


def test_only_the_live_version_is_returned(index: ChromaCardIndex) -> None:
    put(index, make_card(id="c", body="First version of the card."), "v1")
    second = make_card(id="c", body="Second version of the card.", groups=["finance"])
    put(index, second, "v2")
    assert index.get_visible_card("c", FINANCE) == second
    assert index.get_visible_card("c", ANYONE) is None  # the old, public version is gone with its records
    index.delete_card("c")
    assert index.get_visible_card("c", FINANCE) is None
