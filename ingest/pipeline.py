"""The ingest pipeline: validated cards in, the card index updated card by card, a report out."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from ingest.chunking import Chunker
from ingest.sources import CardFailure, Location, ParsedCard, SourceItem
from rag.cards import Card
from rag.ports import CardIndex, CardVersion, Embedder, IndexRecord

CARDS_PER_BATCH = 32


@dataclass(slots=True)
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[CardFailure] = field(default_factory=list)
    records_embedded: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "failed": len(self.failed),
        }


def _batches(items: Iterable[SourceItem], size: int) -> Iterator[list[SourceItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class Ingestor:
    def __init__(self, index: CardIndex, embedder: Embedder, chunker: Chunker, embed_batch_size: int = 64) -> None:
        self._index = index
        self._embedder = embedder
        self._chunker = chunker
        self._embed_batch_size = embed_batch_size

    def run(self, items: Iterable[SourceItem]) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        seen: dict[str, Location] = {}
        for batch in _batches(items, CARDS_PER_BATCH):
            cards: list[ParsedCard] = []
            for item in batch:
                if isinstance(item, CardFailure):
                    report.failed.append(item)
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
                    cards.append(item)
            self._ingest_batch([c.card for c in cards], report)
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_batch(self, cards: list[Card], report: IngestReport) -> None:
        stored = self._index.card_versions([c.id for c in cards])
        to_embed: list[tuple[Card, CardVersion, list[IndexRecord]]] = []
        for card in cards:
            version = self._chunker.version(card, self._embedder.name)
            old = stored.get(card.id)
            if old == version:
                report.unchanged.append(card.id)
            elif old is not None and old.content_hash == version.content_hash:
                self._index.update_card_facts(card, version)  # trust facts changed: no re-embedding
                report.updated.append(card.id)
            else:
                to_embed.append((card, version, self._chunker.records(card, version)))
        texts = [r.embed_text for _, _, records in to_embed for r in records]
        vectors = self._embed(texts)
        report.records_embedded += len(texts)
        offset = 0
        for card, version, records in to_embed:
            self._index.replace_card(card, version, records, vectors[offset : offset + len(records)])
            offset += len(records)
            (report.updated if card.id in stored else report.added).append(card.id)

    def _embed(self, texts: list[str]) -> np.ndarray:
        parts = [
            self._embedder.embed_passages(texts[i : i + self._embed_batch_size])
            for i in range(0, len(texts), self._embed_batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self._embedder.dim), dtype=np.float32)
