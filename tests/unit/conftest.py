from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ingest.chunking import Chunker
from ingest.pipeline import Ingestor
from ingest.sources import Location, ParsedCard
from rag.cards import Card
from rag.clock import FixedClock
from rag.extractive import ExtractivePolicy
from rag.service import AskPolicy, Verity
from tests.fakes import HashEmbedder, InMemoryCardIndex

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class World:
    """A small Verity over fakes: deterministic embedder, in-memory index, a clock that tests move."""

    def __init__(self) -> None:
        self.embedder = HashEmbedder()
        self.index = InMemoryCardIndex()
        self.clock = FixedClock(NOW)
        self.chunker = Chunker(chunk_size=128, chunk_overlap=16)
        self.ingestor = Ingestor(self.index, self.embedder, self.chunker, embed_batch_size=8)
        self.verity = Verity(
            self.index,
            self.embedder,
            self.clock,
            AskPolicy(top_k=5, relevance_threshold=0.35, extractive=ExtractivePolicy(max_sentences=2, margin=0.05)),
        )

    def ingest(self, *cards: Card) -> None:
        report = self.ingestor.run(ParsedCard(c, Location(f"{c.id}.md")) for c in cards)
        assert report.ok, report.failed


@pytest.fixture
def world() -> World:
    return World()


WorldFactory = Callable[[], World]
