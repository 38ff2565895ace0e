from datetime import timedelta

import pytest

from ingest.chunking import Chunker, opens_with
from ingest.sources import CardFailure, Location, ParsedCard
from rag.answering.tokens import cl100k
from rag.domain.types import RecordKind
from tests.builders import make_card
from tests.unit.conftest import NOW, World

LONG_BODY = " ".join(f"Sentence number {i} explains one more rule of the refund policy." for i in range(60))


def test_every_chunk_starts_with_the_title_and_fits_the_token_budget() -> None:
    chunker = Chunker(chunk_size=128, chunk_overlap=16)
    card = make_card(body=LONG_BODY)
    records = chunker.records(card, chunker.version(card, "fake"))
    chunks = [r for r in records if r.kind is RecordKind.CHUNK]
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.document.startswith(card.title + "\n\n")
        assert len(cl100k().encode(chunk.document)) <= 128 + 2
    sentences = [r for r in records if r.kind is RecordKind.SENTENCE]
    assert len(sentences) == 60
    assert all(r.embed_text.startswith(card.title) and r.document in card.body for r in sentences)


def test_a_record_that_already_opens_with_the_title_is_embedded_without_a_second_copy() -> None:
    chunker = Chunker(chunk_size=128, chunk_overlap=16)
    title = "Refunds for Pro Annual plans"
    body = f"# {title}\n\nMonthly plans are never refunded. Refunds for Pro Annual plans are prorated."
    card = make_card(title=title, body=body)
    records = chunker.records(card, chunker.version(card, "fake"))
    chunk = next(r for r in records if r.kind is RecordKind.CHUNK)
    assert chunk.embed_text == body  # the heading already names the card
    assert chunk.document == f"{title}\n\n{body}"  # what is shown and quoted keeps its title line
    sentences = {r.document: r.embed_text for r in records if r.kind is RecordKind.SENTENCE}
    assert sentences["Monthly plans are never refunded."] == f"{title}: Monthly plans are never refunded."
    opening = "Refunds for Pro Annual plans are prorated."
    assert sentences[opening] == opening


@pytest.mark.parametrize(
    ("text", "title", "expected"),
    [
        ("Refunds for Pro Annual plans are prorated.", "Refunds for Pro Annual plans", True),
        ("## refunds  FOR pro\nannual plans: prorated", "Refunds for Pro Annual plans", True),
        ("Refunds for Pro Annual plans.", "Refunds for Pro Annual plans", True),
        ("Refunds are prorated.", "Refund", False),  # whole words only
        ("Pro Annual plans can be refunded.", "Refunds for Pro Annual plans", False),
        ("Refunds for Pro", "Refunds for Pro Annual plans", False),  # shorter than the title
        ("Anything", "   ", False),
        ("Возврат средств за годовой план: полностью.", "Возврат средств за годовой план", True),
    ],
)
def test_opens_with(text: str, title: str, expected: bool) -> None:
    assert opens_with(text, title) is expected


def test_a_very_long_title_is_cut_for_chunks_but_the_body_still_fits() -> None:
    chunker = Chunker(chunk_size=128, chunk_overlap=16)
    card = make_card(title="Überlange Zahlungsrückerstattung " * 9, body=LONG_BODY)
    chunks = [r for r in chunker.records(card, chunker.version(card, "f")) if r.kind is RecordKind.CHUNK]
    assert chunks
    assert all(len(cl100k().encode(c.document)) <= 130 for c in chunks)


def test_versions_separate_content_from_trust_facts() -> None:
    chunker = Chunker(chunk_size=128, chunk_overlap=16)
    base = make_card()
    reverified = make_card(verified_at="2026-11-20T00:00:00Z", verifier="someone@else")
    edited = make_card(body=base.body + " Also for Enterprise.")
    v0, v1, v2 = (chunker.version(c, "e") for c in (base, reverified, edited))
    assert v0.content_hash == v1.content_hash
    assert v0.meta_hash != v1.meta_hash
    assert v0.content_hash != v2.content_hash
    assert chunker.version(base, "other-embedder").content_hash != v0.content_hash


def test_report_counts_added_updated_unchanged_and_failed(world: World) -> None:
    first = world.ingestor.run(
        [
            ParsedCard(make_card(id="a"), Location("a.md")),
            ParsedCard(make_card(id="b"), Location("b.md")),
            CardFailure(Location("c.md", 3), "bad YAML"),
        ]
    )
    assert first.counts() == {"added": 2, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 1}
    assert not first.ok
    second = world.ingestor.run(
        [
            ParsedCard(make_card(id="a"), Location("a.md")),
            ParsedCard(make_card(id="b", body="A different body for card b."), Location("b.md")),
        ]
    )
    assert second.counts() == {"added": 0, "updated": 1, "unchanged": 1, "deleted": 0, "failed": 0}
    assert second.ok


def test_a_changed_card_replaces_all_of_its_chunks_even_when_it_got_shorter(world: World) -> None:
    world.ingest(make_card(id="a", body=LONG_BODY))
    before = [r for r, _, f in world.index.records.values() if f.card_id == "a"]
    world.ingest(make_card(id="a", body="Now the card is one short sentence."))
    after = [r for r, _, f in world.index.records.values() if f.card_id == "a"]
    assert len(before) > 10
    assert {r.document for r in after if r.kind is RecordKind.SENTENCE} == {"Now the card is one short sentence."}
    assert not {r.record_id for r in before} & {r.record_id for r in after}


def test_a_verification_only_change_updates_facts_without_reembedding(world: World) -> None:
    world.ingest(make_card(id="a", state="unverified"))
    calls_before = list(world.embedder.calls)
    report = world.ingestor.run([ParsedCard(make_card(id="a", verified_at=NOW - timedelta(days=1)), Location("a.md"))])
    assert report.counts()["updated"] == 1
    assert report.records_embedded == 0
    assert world.embedder.calls == calls_before
    assert all(f.verifier == "verifier@orbita.example" for _, _, f in world.index.records.values())


def test_a_duplicate_id_is_reported_with_both_places(world: World) -> None:
    report = world.ingestor.run(
        [ParsedCard(make_card(id="a"), Location("one.md")), ParsedCard(make_card(id="a"), Location("two.jsonl", 4))]
    )
    assert report.counts()["added"] == 1
    assert [str(f) for f in report.failed] == [
        "two.jsonl:4 (card a): duplicate id 'a': already read at one.md; this copy was not ingested"
    ]


def test_embedding_is_batched_across_cards(world: World) -> None:
    world.ingest(*(make_card(id=f"c{i}", body=f"Card {i} has its own sentence here.") for i in range(10)))
    assert max(world.embedder.calls) == 8  # embed_batch_size of the World


def test_sync_deletes_cards_the_source_no_longer_has(world: World) -> None:
    world.ingest(make_card(id="a"), make_card(id="b"), make_card(id="c"))
    report = world.ingestor.run(
        [ParsedCard(make_card(id="a"), Location("a.md")), CardFailure(Location("b.md", 2), "bad state", "b")],
        sync=True,
    )
    assert report.deleted == ["c"]  # b failed but is still in the source: kept, never lost to a typo
    assert world.index.card_ids() == {"a", "b"}


def test_without_sync_nothing_is_deleted(world: World) -> None:
    world.ingest(make_card(id="a"), make_card(id="b"))
    report = world.ingestor.run([ParsedCard(make_card(id="a"), Location("a.md"))])
    assert report.deleted == []
    assert world.index.card_ids() == {"a", "b"}


def test_sync_deletes_nothing_while_an_unidentified_item_failed(world: World) -> None:
    world.ingest(make_card(id="a"), make_card(id="b"))
    report = world.ingestor.run(
        [ParsedCard(make_card(id="a"), Location("a.md")), CardFailure(Location("x.md", 3), "bad YAML")], sync=True
    )
    assert report.deleted == []
    assert report.sync_skipped is not None and "no card was deleted" in report.sync_skipped
    assert not report.ok
    assert world.index.card_ids() == {"a", "b"}


def test_tokens_embedded_are_counted(world: World) -> None:
    report = world.ingestor.run([ParsedCard(make_card(id="a"), Location("a.md"))])
    assert report.tokens_embedded > report.records_embedded > 0
