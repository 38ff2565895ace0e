"""What recording costs an ask: the same golden questions asked in turn by a Verity without a recorder and by
one recording into the SQLite event log (rag/services/events/), in process on the sample KB."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from evals.benchmarks.speed.ingest import SAMPLE_KB
from evals.golden import load_golden
from ingest.sources import read_source
from rag.bootstrap import build_ingestor, build_recorder, build_runtime, open_event_log
from rag.config import Settings
from rag.domain.events import Channel
from rag.domain.types import Asker


def bench_recording(rounds: int) -> dict[str, float]:
    questions = load_golden()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        runtime = build_runtime(settings)
        build_ingestor(settings, runtime.index, runtime.embedder).run(read_source(SAMPLE_KB))
        events = open_event_log(settings)
        recorder = build_recorder(settings, events, runtime.clock)
        plain, recording = runtime.verity, runtime.verity.recording(recorder, Channel.HTTP)
        plain.ask("warm up", Asker())
        timings: dict[str, list[float]] = {"plain": [], "recording": []}
        for turn in range(rounds):
            for q in questions:
                order = (("plain", plain), ("recording", recording))
                for name, verity in order if turn % 2 == 0 else order[::-1]:  # neither always goes first
                    started = time.perf_counter()
                    verity.ask(q.question, Asker(frozenset(q.groups)))
                    timings[name].append((time.perf_counter() - started) * 1000)
        recorder.close()
        stats = recorder.stats()
        stored = events.count()
        events.close()
    p50 = {name: float(np.percentile(ms, 50)) for name, ms in timings.items()}
    p95 = {name: float(np.percentile(ms, 95)) for name, ms in timings.items()}
    return {
        "asks_each": len(timings["plain"]),
        "plain_p50_ms": p50["plain"],
        "recording_p50_ms": p50["recording"],
        "p50_ratio": p50["recording"] / p50["plain"],
        "plain_p95_ms": p95["plain"],
        "recording_p95_ms": p95["recording"],
        "p95_ratio": p95["recording"] / p95["plain"],
        "events_recorded": stats.recorded,
        "events_stored": stored,
        "events_lost": stats.failed + stats.dropped,
    }
