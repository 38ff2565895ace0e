"""The Chroma adapter against real Chroma (embedded, in a temp folder) with hand-made vectors.

Vectors are orthogonal unit vectors, so the nearest record is known in advance and every assertion
is about filtering: visibility and trust are applied inside the Chroma query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from rag.adapters.chroma.collection import build_client
from rag.adapters.chroma.index import ChromaCardIndex
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker, RecordKind
from rag.ports import CardVersion, IndexRecord, Scope, TrustFilter
from tests.builders import make_card

DIM = 8
NOW = int(datetime(2026, 11, 22, tzinfo=UTC).timestamp())


def axis(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    return v


def put(index: ChromaCardIndex, card: Card, axis_no: int, content: str = "v1") -> None:
    records = [IndexRecord(f"{card.id}::{content}::chunk::0", RecordKind.CHUNK, 0, f"{card.title}\n\n{card.body}", "")]
    index.replace_card(card, CardVersion(content, "m"), records, np.stack([axis(axis_no)]))


@pytest.fixture
def index(tmp_path: Path) -> ChromaCardIndex:
    settings = Settings(data_dir=tmp_path)
    return ChromaCardIndex(build_client(settings), "test-cards", "hand-made", DIM)


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.facts.card_id for h in hits]


def test_records_of_restricted_cards_never_leave_the_store_for_others(index: ChromaCardIndex) -> None:
    put(index, make_card(id="public"), 0)
    put(index, make_card(id="finance-only", groups=["finance"]), 1)
    put(index, make_card(id="leads-only", groups=["support-leads"]), 2)
    query = axis(1)
    anyone = index.query(query, Scope(Asker(), NOW), 10)
    finance = index.query(query, Scope(Asker(frozenset({"finance"})), NOW), 10)
    both = index.query(query, Scope(Asker(frozenset({"finance", "support-leads"})), NOW), 10)
    assert ids(anyone) == ["public"]
    assert ids(finance) == ["finance-only", "public"]
    assert set(ids(both)) == {"public", "finance-only", "leads-only"}


def test_trust_filter_reads_now_from_the_scope(index: ChromaCardIndex) -> None:
    put(index, make_card(id="fresh", verified_at="2026-11-01T00:00:00Z", verify_interval_days=90), 0)
    put(index, make_card(id="stale", verified_at="2026-01-01T00:00:00Z", verify_interval_days=90), 1)
    put(index, make_card(id="forever", verified_at="2020-01-01T00:00:00Z", verify_interval_days=None), 2)
    put(index, make_card(id="draft", state="unverified"), 3)
    query = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
    trusted = index.query(query, Scope(Asker(), NOW, TrustFilter.TRUSTED), 10)
    untrusted = index.query(query, Scope(Asker(), NOW, TrustFilter.UNTRUSTED), 10)
    assert set(ids(trusted)) == {"fresh", "forever"}
    assert set(ids(untrusted)) == {"stale", "draft"}
    later = NOW + 120 * 86400
    assert set(ids(index.query(query, Scope(Asker(), later, TrustFilter.TRUSTED), 10))) == {"forever"}


def test_facts_round_trip_through_metadata(index: ChromaCardIndex) -> None:
    card = make_card(id="c", groups=["finance"], tags=["a", "b"], internal_only=True, url=None)
    put(index, card, 0)
    [hit] = index.query(axis(0), Scope(Asker(frozenset({"finance"})), NOW), 1)
    assert hit.score == pytest.approx(1.0, abs=1e-5)
    assert hit.facts.groups == ("finance",)
    assert hit.facts.internal_only
    assert hit.facts.url is None
    assert hit.facts.verified_at == card.verified_at


def test_replace_removes_every_old_record_and_update_changes_facts_in_place(index: ChromaCardIndex) -> None:
    card = make_card(id="c")
    many = [IndexRecord(f"c::v1::chunk::{i}", RecordKind.CHUNK, i, f"old {i}", "") for i in range(5)]
    index.replace_card(card, CardVersion("v1", "m"), many, np.stack([axis(i) for i in range(5)]))
    put(index, card, 6, content="v2")
    hits = index.query(axis(6), Scope(Asker(), NOW), 10)
    assert [h.record_id for h in hits] == ["c::v2::chunk::0"]
    index.update_card_facts(make_card(id="c", groups=["finance"]), CardVersion("v2", "m2"))
    assert index.query(axis(6), Scope(Asker(), NOW), 10) == []
    assert index.card_versions(["c", "missing"]) == {"c": CardVersion("v2", "m2")}
    index.delete_card("c")
    assert index.card_versions(["c"]) == {}


def test_a_collection_built_by_another_embedder_is_a_clear_startup_error(tmp_path: Path) -> None:
    client = build_client(Settings(data_dir=tmp_path))
    ChromaCardIndex(client, "cards", "model-a", DIM)
    with pytest.raises(VerityError) as info:
        ChromaCardIndex(client, "cards", "model-b", 16)
    assert info.value.code is ErrorCode.EMBEDDER_MISMATCH
    assert "model-a" in info.value.message
    assert "model-b" in info.value.message


def test_fetch_by_ids_applies_exactly_the_scope_the_vector_query_applies(index: ChromaCardIndex) -> None:
    """`get_records` filters in the adapter (`scope_admits`) instead of a Chroma `where`: both must agree
    on every record, for every asker, trust filter and record kind."""
    from itertools import product

    from rag.adapters.chroma.records import scope_admits, scope_filter

    day = 86_400
    cards = [
        make_card(id="public-fresh", verified_at=datetime.fromtimestamp(NOW - 10 * day, UTC)),
        make_card(id="public-expired", verified_at=datetime.fromtimestamp(NOW - 100 * day, UTC)),
        make_card(id="public-unverified", state="unverified"),
        make_card(id="finance-fresh", groups=["finance"], verified_at=datetime.fromtimestamp(NOW - 10 * day, UTC)),
        make_card(
            id="finance-hr-expired", groups=["finance", "hr"], verified_at=datetime.fromtimestamp(NOW - 95 * day, UTC)
        ),
        make_card(id="no-interval", verify_interval_days=None),
    ]
    for i, card in enumerate(cards):
        records = [
            IndexRecord(f"{card.id}::v::chunk::0", RecordKind.CHUNK, 0, card.body, ""),
            IndexRecord(f"{card.id}::v::sentence::0", RecordKind.SENTENCE, 0, card.body, ""),
        ]
        index.replace_card(card, CardVersion("v", "m"), records, np.stack([axis(i), axis(i)]))
    index.delete_card("public-fresh")
    put(index, make_card(id="public-fresh", verified_at=datetime.fromtimestamp(NOW - 10 * day, UTC)), 7, "v2")
    retired = index._collection.get(ids=["finance-fresh::v::chunk::0"], include=["metadatas"])["metadatas"]
    assert retired
    index._collection.update(ids=["finance-fresh::v::chunk::0"], metadatas=[{**retired[0], "live": False}])
    everything = index._collection.get(include=["metadatas"])
    all_ids = everything["ids"]
    metadata = dict(zip(all_ids, everything["metadatas"] or [], strict=True))
    askers = [Asker(), Asker(frozenset({"finance"})), Asker(frozenset({"hr", "sales"}))]
    kinds = [None, RecordKind.CHUNK, RecordKind.SENTENCE, RecordKind.CARD]
    for asker, trust, kind, now in product(askers, TrustFilter, kinds, [NOW, NOW + 200 * day]):
        scope = Scope(asker, now, trust, kind=kind)
        by_chroma = set(index._collection.get(where=scope_filter(scope), include=[])["ids"])
        by_adapter = {rid for rid in all_ids if scope_admits(metadata[rid], scope)}
        assert by_chroma == by_adapter, scope
        assert {h.record_id for h in index.get_records(all_ids, scope)} == by_chroma, scope
    assert any(scope_admits(metadata[rid], Scope(Asker(), NOW, TrustFilter.TRUSTED)) for rid in all_ids)
