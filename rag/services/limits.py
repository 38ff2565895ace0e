"""Bounds on the work one question can cause: its length in the embedder's tokens, and how many questions
are embedded at once.

Embedding is the one cost of a question that its sender controls: the bundled model reads text of any
length in windows of 512 tokens, so 2,000 characters of 'é' cost ~150x a typical question. The limits sit
in a wrapper around the embedder (`LimitedEmbedder`), given to the service by rag/bootstrap.py, so every entry
point shares them: `/v1/ask`, `/v1/search`, `/v1/reply-drafts`, `/v1/check`, the MCP tools and the CLI.

Only a person's text is limited: `embed_query` embeds one question. Batches (`embed_passages` for ingest and
the guard's evidence, `embed_queries` for reference centroids) come from Verity itself and pass through.
A customer's message for a reply draft goes through `embed_message`: the same gate, a longer limit
(VERITY_MAX_MESSAGE_TOKENS). The sentences of a reply to check (`/v1/check`) go through `embed_sentences`:
one batch through one slot of the gate, under the message limit for all of them together. The citation guard
embeds generated sentences with `embed_queries` (the model's output, not a person's input): they pass
through; a checked reply's sentences reach the guard already embedded (rag/answering/guard/embed_cache.py).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.ports import Embedder, Vectors

RETRY_AFTER_S = 1
MAX_WAIT_S = 10.0  # a question that waited this long for a slot gives up with 429 (shortest-first can starve)


@runtime_checkable
class CountsQueryTokens(Protocol):
    """An embedder that knows how many tokens a question costs it (rag/adapters/embedders.py)."""

    def query_token_count(self, text: str) -> int: ...


class EmbedderBusyError(VerityError):
    """Every embedding slot is taken and the queue is full: 429 with Retry-After (api/http/limits.py). Elsewhere
    (MCP, CLI) it reads as the embedder being unavailable, which is what the caller should do about it."""

    def __init__(self, message: str, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(ErrorCode.EMBEDDER_UNAVAILABLE, message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class QuestionLimit:
    """The most tokens a question may have, counted the way its embedder counts them."""

    max_tokens: int
    count: Callable[[str], int]

    def check(self, text: str) -> int:
        """The question's tokens; VerityError(INVALID_REQUEST) when there are more than `max_tokens`."""
        tokens = self.count(text)
        if tokens > self.max_tokens:
            raise VerityError(
                ErrorCode.INVALID_REQUEST,
                f"the question has {tokens} tokens; the limit is {self.max_tokens} (ask a shorter question)",
            )
        return tokens


class EmbedGate:
    """At most `concurrency` embeddings at once; up to `queue` more wait, the cheapest first (then in order of
    arrival), so that a typical question is not stuck behind long ones; beyond the queue, or after waiting
    `max_wait_s`, EmbedderBusyError.

    Threads wait here (embedding runs in worker threads), so `queue` also bounds the worker threads that the
    embedder can hold: keep it well under the thread pool's size (anyio's default: 40)."""

    def __init__(self, concurrency: int, queue: int, max_wait_s: float = MAX_WAIT_S) -> None:
        if concurrency < 1 or queue < 0:
            raise ValueError("EmbedGate needs concurrency >= 1 and queue >= 0")
        self.concurrency = concurrency
        self.queue = queue
        self._max_wait_s = max_wait_s
        self._lock = threading.Condition()
        self._running = 0
        self._waiting: list[tuple[int, int]] = []  # heap of (cost, arrival)
        self._arrivals = itertools.count()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @contextmanager
    def slot(self, cost: int = 0) -> Iterator[None]:
        self._acquire(cost)
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def _acquire(self, cost: int) -> None:
        with self._lock:
            if self._running < self.concurrency and not self._waiting:
                self._running += 1
                return
            if len(self._waiting) >= self.queue:
                raise self._busy()
            me = (cost, next(self._arrivals))
            heapq.heappush(self._waiting, me)
            deadline = time.monotonic() + self._max_wait_s
            while not (self._running < self.concurrency and self._waiting[0] == me):
                left = deadline - time.monotonic()
                if left <= 0:
                    self._waiting.remove(me)
                    heapq.heapify(self._waiting)
                    self._lock.notify_all()  # the next in line may be able to go now
                    raise self._busy()
                self._lock.wait(left)
            heapq.heappop(self._waiting)
            self._running += 1
            self._lock.notify_all()  # a free slot may remain for the next in line

    def _busy(self) -> EmbedderBusyError:
        return EmbedderBusyError(
            f"the server is busy embedding other questions ({self._running} at once, {len(self._waiting)} "
            f"waiting); try again in {RETRY_AFTER_S} s"
        )


class LimitedEmbedder:
    """`inner`, with each question checked against `limit` and embedded through `gate`."""

    def __init__(
        self, inner: Embedder, limit: QuestionLimit, gate: EmbedGate, message_limit: QuestionLimit | None = None
    ) -> None:
        self.inner = inner
        self.limit = limit
        self.gate = gate
        self.message_limit = message_limit or limit

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_query(self, text: str) -> Vectors:
        tokens = self.limit.check(text)
        with self.gate.slot(tokens):
            return self.inner.embed_query(text)

    def embed_message(self, text: str) -> Vectors:
        """A customer's message (reply drafts): longer than a question may be, through the same gate, where the
        cheapest waits first, so a long message does not delay the questions behind it."""
        tokens = self.message_limit.check(text)
        with self.gate.slot(tokens):
            return self.inner.embed_query(text)

    def embed_sentences(self, texts: Sequence[str]) -> Vectors:
        """The sentences of a reply to check (`/v1/check`), as queries in one batch: together they may cost what
        a customer's message may (the message limit, on the sum of their tokens), through one slot of the gate."""
        tokens = sum(self.message_limit.count(t) for t in texts)
        if tokens > self.message_limit.max_tokens:
            raise VerityError(
                ErrorCode.INVALID_REQUEST,
                f"the reply has {tokens} tokens; the limit is {self.message_limit.max_tokens} (check it in parts)",
            )
        with self.gate.slot(tokens):
            return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_queries(texts)


def token_counter(embedder: Embedder) -> Callable[[str], int]:
    """How `embedder` counts a question's tokens; cl100k_base (rag/answering/tokens.py) for one that cannot say."""
    if isinstance(embedder, CountsQueryTokens):
        return embedder.query_token_count
    from rag.answering.tokens import count_tokens

    return count_tokens


def limited(embedder: Embedder, settings: Settings) -> LimitedEmbedder:
    """`embedder` under the question limits of `settings`."""
    count = token_counter(embedder)
    limit = QuestionLimit(settings.max_question_tokens, count)
    message_limit = QuestionLimit(settings.max_message_tokens, count)
    gate = EmbedGate(settings.embed_concurrency or os.cpu_count() or 2, settings.embed_queue)
    return LimitedEmbedder(embedder, limit, gate, message_limit)
