"""The ingest pipeline: validated cards in, the card index updated card by card, a report out.

Cards stream through in batches (memory stays bounded whatever the source's size); each batch costs
one look-up of stored versions, one embedding pass over the records of new and changed cards, and one
crash-safe replacement per changed card (see `ChromaCardIndex.replace_card`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol

import numpy as np

from ingest.chunking import Chunker
from ingest.sources import CardFailure, Location, ParsedCard, SourceItem
from rag.answering.tokens import count_tokens
from rag.domain.cards import Card
from rag.ports import CardIndex, CardVersion, Embedder, IndexRecord, LanguageDetector, Replacement, WriteOutcome
from rag.retrieval.languages import card_language

CARDS_PER_BATCH = 32


@dataclass(slots=True)
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[CardFailure] = field(default_factory=list)
    records_embedded: int = 0
    tokens_embedded: int = 0  # cl100k tokens of the embedded texts
    seconds: float = 0.0
    sync_skipped: str | None = None  # why --sync deleted nothing, when it had to hold back

    @property
    def ok(self) -> bool:
        return not self.failed and self.sync_skipped is None

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
            "failed": len(self.failed),
        }


class Progress(Protocol):
    """Told about each finished batch; the CLI shows a bar on a terminal and log lines elsewhere."""

    def advance(self, cards: int, tokens: int) -> None: ...


class NoProgress:
    def advance(self, cards: int, tokens: int) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Known:
    versions: dict[str, CardVersion] | None  # None: look each batch up
    dead: set[str]


def _batches(items: Iterable[SourceItem], size: int) -> Iterator[list[SourceItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class Ingestor:
    def __init__(
        self,
        index: CardIndex,
        embedder: Embedder,
        chunker: Chunker,
        embed_batch_size: int = 64,
        languages: LanguageDetector | None = None,
    ) -> None:
        """`languages` detects the language of cards that do not state one (without it such cards are stored
        without a language, and scoring centres them by their vectors' nearest language)."""
        self._index = index
        self._embedder = embedder
        self._chunker = chunker
        self._embed_batch_size = embed_batch_size
        self._languages = languages

    def run(
        self,
        items: Iterable[SourceItem],
        *,
        sync: bool = False,
        progress: Progress | None = None,
        prefetch_versions: bool = True,
    ) -> IngestReport:
        """Add and update the cards of a source; with `sync`, also delete indexed cards the source lacks.

        `prefetch_versions` reads every stored card's hashes once up front (a few paged calls), so unchanged
        cards cost no store call at all; a single-card write turns it off and asks for its card alone.
        """
        started = time.perf_counter()
        report = IngestReport()
        known = _Known(
            self._index.all_card_versions() if prefetch_versions else None,
            self._index.cards_with_dead_records(),
        )
        seen: dict[str, Location] = {}
        named_in_failures: set[str] = set()
        anonymous_failures = 0
        for batch in _batches(items, CARDS_PER_BATCH):
            cards: list[Card] = []
            for item in batch:
                if isinstance(item, CardFailure):
                    report.failed.append(item)
                    if item.card_id:
                        named_in_failures.add(item.card_id)
                    else:
                        anonymous_failures += 1
                elif item.card.id in seen:
                    report.failed.append(
                        CardFailure(
                            item.location,
                            f"duplicate id {item.card.id!r}: already read at {seen[item.card.id]}; "
                            "this copy was not ingested",
                            item.card.id,
                        )
                    )
                else:
                    seen[item.card.id] = item.location
                    cards.append(item.card)
            tokens = self._ingest_batch(cards, report, known)
            (progress or NoProgress()).advance(len(batch), tokens)
        if sync:
            self._sync(set(seen) | named_in_failures, anonymous_failures, report)
        report.seconds = time.perf_counter() - started
        return report

    def _sync(self, in_source: set[str], anonymous_failures: int, report: IngestReport) -> None:
        if anonymous_failures:
            report.sync_skipped = (
                f"{anonymous_failures} item(s) of the source could not be read far enough to know their card id; "
                "no card was deleted, so that none is lost by mistake: fix them and run again"
            )
            return
        for card_id in sorted(self._index.card_ids() - in_source):
            self._index.delete_card(card_id)
            report.deleted.append(card_id)

    def _ingest_batch(self, cards: list[Card], report: IngestReport, known: _Known) -> int:
        if not cards:
            return 0
        ids = [c.id for c in cards]
        leftovers = [card_id for card_id in ids if card_id in known.dead]
        if leftovers:  # invisible records of an interrupted run, even of cards unchanged now
            self._index.purge_dead(leftovers)
        if known.versions is None:
            stored = dict(self._index.card_versions(ids))
        else:
            stored = {card_id: known.versions[card_id] for card_id in ids if card_id in known.versions}
        to_embed: list[tuple[Card, CardVersion, list[IndexRecord]]] = []
        for card in cards:
            version = self._chunker.version(card, self._embedder.name)
            old = stored.get(card.id)
            if old == version:
                report.unchanged.append(card.id)
            elif old is not None and old.content_hash == version.content_hash:
                # trust, visibility or language facts changed: no re-embedding
                self._index.update_card_facts(card, version, card_language(card, self._languages))
                report.updated.append(card.id)
            else:
                to_embed.append((card, version, self._chunker.records(card, version)))
        texts = [r.embed_text for _, _, records in to_embed for r in records]
        vectors = self._embed(texts)
        tokens = sum(count_tokens(t) for t in texts)
        report.records_embedded += len(texts)
        report.tokens_embedded += tokens
        replacements = []
        offset = 0
        for card, version, records in to_embed:
            language = card_language(card, self._languages)
            replacements.append(Replacement(card, version, records, vectors[offset : offset + len(records)], language))
            offset += len(records)
        self._index.replace_cards(replacements)  # one crash-safe flip for the whole batch
        for card, _, _ in to_embed:
            (report.updated if card.id in stored else report.added).append(card.id)
        return tokens

    def _embed(self, texts: list[str]) -> np.ndarray:
        parts = [
            self._embedder.embed_passages(texts[i : i + self._embed_batch_size])
            for i in range(0, len(texts), self._embed_batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self._embedder.dim), dtype=np.float32)


class IngestWriter:
    """The CardWriter port over the ingest pipeline: one card, the same checks and crash safety as a source."""

    def __init__(self, ingestor: Ingestor) -> None:
        self._ingestor = ingestor
        self._lock = threading.Lock()  # two writes of one card must not interleave their replace steps

    def write(self, card: Card) -> WriteOutcome:
        with self._lock:
            report = self._ingestor.run([ParsedCard(card, Location("api"))], prefetch_versions=False)
        if report.added:
            return WriteOutcome.ADDED
        return WriteOutcome.UPDATED if report.updated else WriteOutcome.UNCHANGED
