from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app, runtime_lifespan
from ingest.chunking import Chunker
from ingest.pipeline import Ingestor
from ingest.sources import Location, ParsedCard
from rag.answering.extractive import ExtractivePolicy
from rag.bootstrap import Runtime
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.ports import ChatModel
from rag.services.ask import AskPolicy, Verity
from tests.builders import make_card
from tests.fakes import HashEmbedder, InMemoryCardIndex, plain_calibration

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _data_dir_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Settings() a test builds keeps its files (the feedback store an app opens at startup) in the
    test's own folder, never in the working directory's .verity."""
    monkeypatch.setenv("VERITY_DATA_DIR", str(tmp_path / "data"))


REFUND = make_card(
    id="refund",
    title="Refunds for Pro Annual plans",
    body="Pro Annual plans can be refunded in full within 30 days of purchase. "
    "Refunds reach the customer card within 10 business days.",
    verified_at=NOW - timedelta(days=89),
    verify_interval_days=90,
)
BATTERY = make_card(
    id="battery",
    title="Hub battery replacement",
    body="The hub battery can be replaced by the customer with a small screwdriver.",
    state="unverified",
)
EXPORT = make_card(
    id="export",
    title="Data export limits",
    body="A data export holds at most one million rows per export file.",
    verified_at=NOW - timedelta(days=200),
    verify_interval_days=90,
)
CHARGEBACK = make_card(
    id="chargeback",
    title="Chargeback handling",
    body="Chargeback disputes are answered by finance within seven days of the bank notice.",
    groups=["finance"],
)


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
            AskPolicy(top_k=5, extractive=ExtractivePolicy(max_sentences=2, margin=0.05)),
            None,
            plain_calibration(0.35),
        )

    def ingest(self, *cards: Card) -> None:
        report = self.ingestor.run(ParsedCard(c, Location(f"{c.id}.md")) for c in cards)
        assert report.ok, report.failed

    def with_chat(self, chat: ChatModel | None, **policy: Any) -> Verity:
        """This world's Verity answering through `chat` (a scripted model), under `policy` changes."""
        changed = replace(self.verity.policy, **policy)
        return Verity(self.index, self.embedder, self.clock, changed, chat, self.verity.calibration)

    def runtime(self, settings: Settings) -> Runtime:
        """This world as the app's runtime, under `settings` (keys, limits)."""
        return Runtime(
            settings=settings, embedder=self.embedder, index=self.index, verity=self.verity, clock=self.clock
        )


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def kb(world: World) -> World:
    """The world with a verified card, an unverified one, an expired one and a finance-only one."""
    world.ingest(REFUND, BATTERY, CHARGEBACK, EXPORT)
    return world


WorldFactory = Callable[[], World]


WRITE_KEY = "s3cret-write-key"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    world.ingest(
        REFUND,
        BATTERY,
        CHARGEBACK,
        make_card(
            id="internal",
            title="Escalation contacts",
            body="Escalations after midnight go to the duty manager on the internal bridge line.",
            internal_only=True,
        ),
    )
    runtime = world.runtime(Settings(write_keys=SecretStr(f"{WRITE_KEY}, second-key")))
    with TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime))) as c:
        yield c
