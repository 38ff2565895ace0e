"""The card store's contract (`rag.ports.CardIndex`), held against the in-memory fake and the Chroma adapter.

The unit tier runs the core over `InMemoryCardIndex` on the word that it behaves as `ChromaCardIndex` does;
every test here runs on both (embedded Chroma in a temp folder), so that the fake cannot drift from the
store it stands in for. Vectors come from `HashEmbedder`: texts that share words are close, others are not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from rag.adapters.chroma.collection import build_client
from rag.adapters.chroma.index import ChromaCardIndex
from rag.bootstrap import open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.trust import until_epoch
from rag.domain.types import Asker, CardFacts, RecordKind
from rag.ports import CardIndex, CardVersion, IndexRecord, Replacement, Scope, StoredHit, TrustFilter
from tests.builders import make_card
from tests.fakes import HashEmbedder, InMemoryCardIndex

EMBEDDER = HashEmbedder()
NOW_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NOW = int(NOW_AT.timestamp())
PUBLIC = Asker()
FINANCE = Asker(frozenset({"finance"}))


@dataclass(frozen=True, slots=True)
class Store:
    index: CardIndex
    # another handle on the same store, as another process holds it, that reads the store's state at every call
    other_handle: Callable[[], CardIndex]


def _in_memory(_tmp_path: Path) -> Store:
    index = InMemoryCardIndex()
    return Store(index, lambda: index)  # one process's memory: every handle is the same index


def _chroma(tmp_path: Path) -> Store:
    settings = Settings(data_dir=tmp_path, chroma_host=None)

    def other_handle() -> CardIndex:
        client = build_client(settings)
        return ChromaCardIndex(client, settings.collection, EMBEDDER.name, EMBEDDER.dim, lexical_ttl_s=0.0)

    return Store(open_index(settings, EMBEDDER), other_handle)


IMPLEMENTATIONS: dict[str, Callable[[Path], Store]] = {"in-memory": _in_memory, "chroma": _chroma}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return IMPLEMENTATIONS[request.param](tmp_path)


@pytest.fixture
def index(store: Store) -> CardIndex:
    return store.index


def chroma_only_xfail(request: pytest.FixtureRequest, reason: str) -> None:
    """Mark the running test as a known defect of the Chroma adapter (strict: it must fail there)."""
    if request.node.callspec.params["store"] == "chroma":
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def version(content: str = "v1", meta: str = "m1") -> CardVersion:
    return CardVersion(content, meta)


def records_of(card: Card, content: str = "v1", sentence: str | None = None) -> list[IndexRecord]:
    """A chunk (title and body) and a sentence record (the body, or `sentence`), with ids of this version."""
    chunk_text = f"{card.title}\n\n{card.body}"
    sentence_text = sentence or card.body
    return [
        IndexRecord(f"{card.id}::{content}::chunk::0", RecordKind.CHUNK, 0, chunk_text, chunk_text),
        IndexRecord(f"{card.id}::{content}::sentence::0", RecordKind.SENTENCE, 0, sentence_text, sentence_text),
    ]


def replacement(
    card: Card,
    content: str = "v1",
    meta: str = "m1",
    language: str | None = None,
    records: Sequence[IndexRecord] | None = None,
) -> Replacement:
    chosen = list(records) if records is not None else records_of(card, content)
    vectors = EMBEDDER.embed_passages([r.embed_text for r in chosen])
    return Replacement(card, version(content, meta), chosen, vectors, language)


def put(index: CardIndex, *cards: Card, content: str = "v1") -> None:
    index.replace_cards([replacement(card, content) for card in cards])


def scope(
    asker: Asker = PUBLIC,
    trust: TrustFilter = TrustFilter.ANY,
    now: int = NOW,
    kind: RecordKind | None = None,
) -> Scope:
    return Scope(asker, now, trust, kind)


def everything(index: CardIndex, within: Scope) -> list[StoredHit]:
    return index.query(EMBEDDER.embed_query("refund plans purchase"), within, 100)


def card_ids_of(hits: Sequence[StoredHit]) -> set[str]:
    return {h.facts.card_id for h in hits}


def record_ids_of(hits: Sequence[StoredHit]) -> set[str]:
    return {h.record_id for h in hits}


def lexical_ids(index: CardIndex, text: str) -> set[str]:
    return {hit.record_id for hit in index.lexical_index().search(text, 100)}


REFUND = make_card(id="refund")
EXPORT = make_card(
    id="export",
    title="Data export limits",
    body="A data export holds at most one million rows per export file.",
    collection="data",
)
CHARGEBACK = make_card(
    id="chargeback",
    title="Chargeback handling",
    body="Chargeback disputes are answered by finance within seven days of the bank notice.",
    groups=["finance", "legal"],
)


# -- writes and overwrites ---------------------------------------------------------------------------------


def test_written_cards_are_stored_whole_with_their_versions(index: CardIndex) -> None:
    index.replace_cards([replacement(REFUND), replacement(EXPORT, "v7", "m7")])
    assert index.card_ids() == {"refund", "export"}
    assert index.card_versions(["refund", "export", "missing"]) == {"refund": version(), "export": version("v7", "m7")}
    assert index.card_versions([]) == {}
    assert index.all_card_versions() == {"refund": version(), "export": version("v7", "m7")}
    assert index.get_card("refund") == REFUND
    assert index.get_card("missing") is None
    assert sorted(c.id for c in index.list_cards()) == ["export", "refund"]
    stored = [*records_of(REFUND), *records_of(EXPORT, "v7")]
    assert record_ids_of(everything(index, scope())) == {r.record_id for r in stored}


def test_a_new_version_replaces_every_record_of_the_old_one(index: CardIndex) -> None:
    put(index, REFUND, EXPORT)
    new = make_card(id="refund", body="Refunds of Pro Annual plans now take fourteen days.")
    [chunk] = [r for r in records_of(new, "v2") if r.kind is RecordKind.CHUNK]
    index.replace_cards([replacement(new, "v2", "m2", records=[chunk])])
    assert index.card_versions(["refund"]) == {"refund": version("v2", "m2")}
    assert index.get_card("refund") == new
    assert {h.record_id for h in everything(index, scope()) if h.facts.card_id == "refund"} == {chunk.record_id}
    old_ids = [r.record_id for r in records_of(REFUND)]
    assert index.get_records(old_ids, scope()) == []
    assert lexical_ids(index, "fourteen") == {chunk.record_id}
    assert lexical_ids(index, "thirty 30") == set()
    assert index.card_ids() == {"refund", "export"}  # the other card is untouched


def test_a_replacement_keeps_only_the_records_it_brings_even_under_the_same_content_hash(index: CardIndex) -> None:
    put(index, REFUND)
    [chunk, _] = records_of(REFUND)
    index.replace_cards([replacement(REFUND, "v1", "m2", records=[chunk])])
    assert record_ids_of(everything(index, scope())) == {chunk.record_id}
    assert index.card_versions(["refund"]) == {"refund": version("v1", "m2")}


def test_replacing_no_cards_changes_nothing(index: CardIndex) -> None:
    put(index, REFUND)
    index.replace_cards([])
    assert index.all_card_versions() == {"refund": version()}


def test_a_replacement_with_a_vector_short_stores_no_card_of_its_batch(index: CardIndex) -> None:
    good = replacement(EXPORT)
    broken = replacement(REFUND)
    short = Replacement(broken.card, broken.version, broken.records, broken.vectors[:1])
    with pytest.raises(ValueError):
        index.replace_cards([good, short])
    assert index.card_ids() == set()
    assert index.all_card_versions() == {}
    assert index.get_card("refund") is None and index.get_card("export") is None


def test_a_card_without_records_is_still_a_stored_card(index: CardIndex) -> None:
    index.replace_cards([replacement(REFUND, records=[])])
    assert index.card_ids() == {"refund"}
    assert index.card_versions(["refund"]) == {"refund": version()}
    assert index.all_card_versions() == {"refund": version()}
    assert index.get_card("refund") == REFUND
    assert everything(index, scope()) == []


@pytest.mark.parametrize(
    ("own", "detected", "stored"), [(None, "de", "de"), ("en", None, "en"), (None, None, None), ("en", "en", "en")]
)
def test_the_language_given_with_a_replacement_is_the_cards_language_fact(
    index: CardIndex, own: str | None, detected: str | None, stored: str | None
) -> None:
    card = make_card(id="refund", language=own)
    index.replace_cards([replacement(card, language=detected)])
    assert {h.facts.language for h in everything(index, scope())} == {stored}


def expected_facts(card: Card, stored: CardVersion, language: str | None = None) -> CardFacts:
    return CardFacts(
        card_id=card.id,
        title=card.title,
        collection=card.collection,
        url=card.url,
        owner=card.owner or None,
        verifier=card.verifier or None,
        state=card.state,
        verified_at=card.verified_at,
        verified_until_epoch=until_epoch(card.state, card.verified_at, card.verified_until),
        language=language or card.language,
        internal_only=card.internal_only,
        groups=card.groups,
        content_hash=stored.content_hash,
        meta_hash=stored.meta_hash,
    )


@pytest.mark.parametrize(
    "card",
    [
        CHARGEBACK,
        make_card(id="internal", internal_only=True, url=None, tags=["a", "b"], language=None),
        make_card(id="draft", state="unverified", verifier=None, owner=""),
        make_card(id="forever", verify_interval_days=None),
        make_card(id="guru", verified_at="2026-11-01T00:00:00Z", next_verification_at="2027-05-01T00:00:00Z"),
    ],
    ids=lambda card: card.id,
)
def test_every_fact_of_a_card_comes_back_with_each_of_its_records(index: CardIndex, card: Card) -> None:
    index.replace_cards([replacement(card, language="pt" if card.language is None else None)])
    within = scope(Asker(frozenset(card.groups)))
    hits = everything(index, within)
    fetched = index.get_records([r.record_id for r in records_of(card)], within)
    assert len(hits) == len(fetched) == 2
    want = expected_facts(card, version(), "pt" if card.language is None else None)
    for hit in [*hits, *fetched]:
        assert hit.facts == want
    assert index.get_card(card.id) == card


def test_a_verification_instant_is_kept_to_the_second(index: CardIndex) -> None:
    """The store's precision: a card's own JSON keeps the fraction, the facts on its records do not."""
    card = make_card(id="precise", verified_at="2026-11-01T09:30:00.250Z")
    put(index, card)
    assert card.verified_at is not None
    assert {h.facts.verified_at for h in everything(index, scope())} == {card.verified_at.replace(microsecond=0)}
    assert index.get_card(card.id) == card


# -- facts updated in place --------------------------------------------------------------------------------


def test_updated_facts_reach_every_record_without_new_vectors_or_texts(index: CardIndex) -> None:
    put(index, REFUND, EXPORT)
    before = {h.record_id: h for h in everything(index, scope())}
    restricted = make_card(id="refund", groups=["finance"], state="unverified", internal_only=True)
    index.update_card_facts(restricted, version("v1", "m2"), "fr")
    assert index.card_versions(["refund"]) == {"refund": version("v1", "m2")}
    assert index.get_card("refund") == restricted
    assert card_ids_of(everything(index, scope())) == {"export"}
    after = [h for h in everything(index, scope(FINANCE)) if h.facts.card_id == "refund"]
    assert {h.record_id for h in after} == {r.record_id for r in records_of(REFUND)}
    for hit in after:
        assert hit.facts == expected_facts(restricted, version("v1", "m2"), "fr")
        assert hit.document == before[hit.record_id].document
        np.testing.assert_allclose(hit.vector, before[hit.record_id].vector, atol=1e-6)
    assert lexical_ids(index, "refunded") == {"refund::v1::chunk::0"}
    assert index.cards_with_dead_records() == set()


def test_updating_the_facts_of_an_absent_card_stores_nothing(index: CardIndex) -> None:
    index.update_card_facts(REFUND, version())
    assert index.card_ids() == set()
    assert index.get_card("refund") is None
    assert list(index.list_cards()) == []


# -- deletes and dead records ------------------------------------------------------------------------------


def test_a_deleted_card_is_gone_from_every_read(index: CardIndex) -> None:
    put(index, REFUND, EXPORT)
    index.delete_card("refund")
    assert index.card_ids() == {"export"}
    assert index.card_versions(["refund"]) == {}
    assert index.all_card_versions() == {"export": version()}
    assert index.get_card("refund") is None
    assert index.get_visible_card("refund", PUBLIC) is None
    assert [c.id for c in index.list_cards()] == ["export"]
    assert card_ids_of(everything(index, scope())) == {"export"}
    assert index.get_records([r.record_id for r in records_of(REFUND)], scope()) == []
    assert lexical_ids(index, "refunded") == set()


def test_deleting_an_absent_card_is_harmless(index: CardIndex) -> None:
    put(index, REFUND)
    index.delete_card("missing")
    assert index.card_ids() == {"refund"}


def test_finished_writes_leave_no_dead_records_and_purging_keeps_live_ones(index: CardIndex) -> None:
    put(index, REFUND, EXPORT, CHARGEBACK)
    put(index, make_card(id="refund", body="Refunds take fourteen days."), content="v2")
    index.update_card_facts(EXPORT, version("v1", "m2"))
    index.delete_card("chargeback")
    assert index.cards_with_dead_records() == set()
    live = record_ids_of(everything(index, scope()))
    index.purge_dead(["refund"])
    index.purge_dead()
    assert record_ids_of(everything(index, scope())) == live
    assert index.card_ids() == {"refund", "export"}


# -- listing -----------------------------------------------------------------------------------------------


def test_cards_are_listed_whole_by_collection_whoever_may_see_them(index: CardIndex) -> None:
    put(index, REFUND, EXPORT, CHARGEBACK)
    assert sorted(c.id for c in index.list_cards()) == ["chargeback", "export", "refund"]
    assert sorted(c.id for c in index.list_cards("billing")) == ["chargeback", "refund"]
    assert list(index.list_cards("data")) == [EXPORT]
    assert list(index.list_cards("nowhere")) == []
    assert index.get_card("chargeback") == CHARGEBACK  # callers check visibility


# -- visibility --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "sees_chargeback"),
    [((), False), (("support",), False), (("finance",), True), (("legal", "support"), True)],
)
def test_a_restricted_card_is_seen_only_by_an_asker_in_one_of_its_groups(
    index: CardIndex, groups: tuple[str, ...], sees_chargeback: bool
) -> None:
    put(index, REFUND, CHARGEBACK)
    asker = Asker(frozenset(groups), subject="someone")
    visible = {"refund", "chargeback"} if sees_chargeback else {"refund"}
    assert card_ids_of(everything(index, scope(asker))) == visible
    ids = [r.record_id for c in (REFUND, CHARGEBACK) for r in records_of(c)]
    assert card_ids_of(index.get_records(ids, scope(asker))) == visible
    assert (index.get_visible_card("chargeback", asker) == CHARGEBACK) is sees_chargeback
    assert index.get_visible_card("refund", asker) == REFUND
    assert index.get_visible_card("missing", asker) is None


def test_internal_only_is_a_fact_for_the_answer_not_a_filter_of_the_store(index: CardIndex) -> None:
    internal = make_card(id="internal", internal_only=True)
    put(index, internal)
    hits = everything(index, scope(PUBLIC, TrustFilter.TRUSTED))
    assert card_ids_of(hits) == {"internal"} and all(h.facts.internal_only for h in hits)
    assert index.get_visible_card("internal", PUBLIC) == internal


# -- trust at a given `now` ----------------------------------------------------------------------------------

FRESH = make_card(id="fresh", verified_at="2026-11-01T00:00:00Z", verify_interval_days=90)
STALE = make_card(id="stale", verified_at="2026-01-01T00:00:00Z", verify_interval_days=90)
FOREVER = make_card(id="forever", verified_at="2020-01-01T00:00:00Z", verify_interval_days=None)
DRAFT = make_card(id="draft", state="unverified")
ENDS_NOW = make_card(id="ends-now", verified_at=NOW_AT - timedelta(days=30), verify_interval_days=30)
DUE_LATER = make_card(id="due-later", verified_at="2026-01-01T00:00:00Z", next_verification_at="2027-01-01T00:00:00Z")
TRUST_CARDS = (FRESH, STALE, FOREVER, DRAFT, ENDS_NOW, DUE_LATER)


@pytest.mark.parametrize(
    ("now", "trusted"),
    [
        (NOW, {"fresh", "forever", "due-later"}),  # ends-now expires at this very second
        (NOW - 1, {"fresh", "forever", "ends-now", "due-later"}),
        (NOW + 120 * 86400, {"forever"}),
        # a verification dated after `now` still counts: the store compares `now` with the end of trust only
        (int(datetime(2026, 2, 1, tzinfo=UTC).timestamp()), {"fresh", "stale", "forever", "ends-now", "due-later"}),
    ],
)
def test_the_trust_filter_reads_now_from_the_scope(index: CardIndex, now: int, trusted: set[str]) -> None:
    put(index, *TRUST_CARDS)
    every = {c.id for c in TRUST_CARDS}
    ids = [r.record_id for c in TRUST_CARDS for r in records_of(c)]
    for trust, want in (
        (TrustFilter.TRUSTED, trusted),
        (TrustFilter.UNTRUSTED, every - trusted),
        (TrustFilter.ANY, every),
    ):
        assert card_ids_of(everything(index, scope(trust=trust, now=now))) == want, trust
        assert card_ids_of(index.get_records(ids, scope(trust=trust, now=now))) == want, trust


def test_trust_and_visibility_filter_together(index: CardIndex) -> None:
    stale_finance = make_card(
        id="stale-finance", verified_at="2026-01-01T00:00:00Z", verify_interval_days=90, groups=["finance"]
    )
    put(index, FRESH, STALE, stale_finance, CHARGEBACK)
    assert card_ids_of(everything(index, scope(PUBLIC, TrustFilter.UNTRUSTED))) == {"stale"}
    assert card_ids_of(everything(index, scope(FINANCE, TrustFilter.UNTRUSTED))) == {"stale", "stale-finance"}
    assert card_ids_of(everything(index, scope(FINANCE, TrustFilter.TRUSTED))) == {"fresh", "chargeback"}


# -- kinds and card ids in the scope -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [RecordKind.CHUNK, RecordKind.SENTENCE, None])
def test_the_scope_selects_chunks_or_sentences_and_never_anything_else(
    index: CardIndex, kind: RecordKind | None
) -> None:
    put(index, REFUND, EXPORT)
    kinds = {kind} if kind is not None else {RecordKind.CHUNK, RecordKind.SENTENCE}
    want = {r.record_id for c in (REFUND, EXPORT) for r in records_of(c) if r.kind in kinds}
    hits = everything(index, scope(kind=kind))
    assert record_ids_of(hits) == want
    assert {h.kind for h in hits} == kinds
    fetched = index.get_records([r.record_id for c in (REFUND, EXPORT) for r in records_of(c)], scope(kind=kind))
    assert record_ids_of(fetched) == want


# -- vector search and fetch by id -------------------------------------------------------------------------


def test_a_query_returns_the_nearest_records_first_with_their_cosine_and_vector(index: CardIndex) -> None:
    put(index, REFUND, EXPORT, CHARGEBACK)
    [export_chunk, _] = records_of(EXPORT)
    query = EMBEDDER.embed_query(export_chunk.embed_text)
    hits = index.query(query, scope(FINANCE), 3)
    assert len(hits) == 3
    assert hits[0].record_id == export_chunk.record_id
    assert hits[0].document == export_chunk.document and hits[0].kind is RecordKind.CHUNK
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(hits[0].vector, EMBEDDER.embed_passages([export_chunk.embed_text])[0], atol=1e-6)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    for hit in hits:
        assert hit.score == pytest.approx(float(np.dot(hit.vector, query)), abs=1e-5)
    assert len(index.query(query, scope(FINANCE), 100)) == 6  # fewer than asked: all there are


def test_a_query_of_an_empty_store_finds_nothing(index: CardIndex) -> None:
    assert everything(index, scope()) == []
    assert index.get_records(["refund::v1::chunk::0"], scope()) == []


def test_records_are_fetched_by_id_unknown_ids_skipped(index: CardIndex) -> None:
    put(index, REFUND, EXPORT)
    wanted = [r.record_id for r in records_of(EXPORT)]
    fetched = index.get_records([*wanted, "nothing::v1::chunk::0"], scope())
    assert sorted(h.record_id for h in fetched) == sorted(wanted)  # in no promised order
    by_id = {r.record_id: r for r in records_of(EXPORT)}
    for hit in fetched:
        assert hit.document == by_id[hit.record_id].document and hit.kind is by_id[hit.record_id].kind
        np.testing.assert_allclose(hit.vector, EMBEDDER.embed_passages([by_id[hit.record_id].embed_text])[0], atol=1e-6)
    assert index.get_records([], scope()) == []


def test_a_record_asked_for_twice_comes_back_once(index: CardIndex) -> None:
    put(index, REFUND)
    chunk_id = records_of(REFUND)[0].record_id
    assert [h.record_id for h in index.get_records([chunk_id, chunk_id], scope())] == [chunk_id]


def test_a_query_for_no_results_finds_nothing(index: CardIndex) -> None:
    put(index, REFUND)
    assert index.query(EMBEDDER.embed_query("refund"), scope(), 0) == []


# -- the lexical index -------------------------------------------------------------------------------------


def test_the_lexical_index_holds_the_live_chunks_and_nothing_else(index: CardIndex) -> None:
    assert len(index.lexical_index()) == 0 and index.lexical_index().search("refund", 5) == []
    card = make_card(id="refund")
    records = records_of(card, sentence="A zephyr sentence only the sentence record holds.")
    index.replace_cards([replacement(card, records=records), replacement(EXPORT)])
    lexical = index.lexical_index()
    assert len(lexical) == 2
    assert lexical_ids(index, "refunded") == {"refund::v1::chunk::0"}
    assert lexical_ids(index, "zephyr") == set()
    assert {h.record_id for h in lexical.search("export rows refunded", 10)} == {
        "refund::v1::chunk::0",
        "export::v1::chunk::0",
    }


def test_the_lexical_index_follows_every_write_of_this_handle(index: CardIndex) -> None:
    put(index, REFUND)
    assert lexical_ids(index, "refunded") == {"refund::v1::chunk::0"}
    put(index, make_card(id="refund", body="Refunds take fourteen days."), content="v2")
    assert lexical_ids(index, "fourteen") == {"refund::v2::chunk::0"}
    assert lexical_ids(index, "refunded") == set()
    index.delete_card("refund")
    assert len(index.lexical_index()) == 0


def test_the_lexical_index_follows_the_writes_of_another_handle(store: Store) -> None:
    """The store's generation stamp: a reader rebuilds its lexical index when any writer changed the texts."""
    reader = store.other_handle()
    assert len(reader.lexical_index()) == 0
    store.index.replace_cards([replacement(REFUND), replacement(EXPORT)])
    assert lexical_ids(reader, "refunded export") == {"refund::v1::chunk::0", "export::v1::chunk::0"}
    store.index.delete_card("export")
    assert lexical_ids(reader, "refunded export") == {"refund::v1::chunk::0"}
    assert reader.card_ids() == {"refund"}


# -- health ------------------------------------------------------------------------------------------------


def test_a_reachable_store_answers_ping(index: CardIndex) -> None:
    assert index.ping() is None  # type: ignore[func-returns-value]
