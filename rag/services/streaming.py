"""A streamed answer: the events `Verity.ask_stream` yields (rag/services/ask.py), how they are produced from a
decided question (`stream_answer`), and how the model's stream is closed when the client goes away."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rag.answering.generation import PromptEvidence, ReplyGuard, build_messages, prompt_evidence
from rag.answering.guard.core import SentenceVerdict
from rag.config import LlmUnsupported
from rag.domain.errors import VerityError
from rag.domain.types import Answer, AskResult, DroppedSentence
from rag.retrieval.refusals import refuse
from rag.services.answerer import Answerer, withheld
from rag.services.question import Prepared


@dataclass(frozen=True, slots=True)
class TextEvent:
    """A sentence of the answer that the asker may see now, with its citation markers."""

    text: str


@dataclass(frozen=True, slots=True)
class DroppedEvent:
    """A generated sentence the citation guard removed."""

    dropped: DroppedSentence


@dataclass(frozen=True, slots=True)
class ResultEvent:
    """The last event: the whole answer with its citations (or the refusal), as `ask` returns it."""

    result: AskResult


AskEvent = TextEvent | DroppedEvent | ResultEvent


class AskStream:
    """The events of one streamed answer. `close()` stops generation (the model's connection is closed);
    call it when the client goes away."""

    def __init__(
        self,
        events: Iterator[AskEvent],
        on_close: Callable[[], None] | None = None,
        cancelled: threading.Event | None = None,
        on_result: Callable[[AskResult], None] | None = None,
    ) -> None:
        self._events = events
        self._on_close = on_close
        self.cancelled = cancelled or threading.Event()
        self._on_result = on_result

    def then(self, on_result: Callable[[AskResult], None]) -> AskStream:
        """The same stream, calling `on_result` with the whole result once it has been produced."""
        return AskStream(self._events, self._on_close, self.cancelled, on_result)

    def __iter__(self) -> Iterator[AskEvent]:
        for event in self._events:
            if self.cancelled.is_set():
                break
            if isinstance(event, ResultEvent) and self._on_result is not None:
                self._on_result(event.result)
            yield event

    def close(self) -> None:
        """Safe from any thread, also while an event is being produced: generation stops at the next token."""
        self.cancelled.set()
        if self._on_close is not None:
            self._on_close()


def stream_answer(p: Prepared, answerer: Answerer) -> AskStream:
    """`Verity.ask_stream` once the question is decided: the refusal, the extractive answer, or the model's
    sentences as the guard passes them. A model that is down fails here, before the first event (its first
    token is awaited): then the extractive answer or LLM_UNAVAILABLE, as `ask` does."""
    if not p.decision.answer_from:
        return AskStream(iter([ResultEvent(p.result(refusal=refuse(p.decision.refuse_with)))]))
    if answerer.chat is None:
        return AskStream(_answer_events(p, answerer.extractive(p.decision.answer_from)))
    evidence = prompt_evidence(p.decision.answer_from, answerer.policy.tokens_per_card)
    asked = time.perf_counter()
    try:
        deltas = answerer.chat.stream(build_messages(p.question, evidence))
        first = next(deltas, "")
    except VerityError as exc:
        answerer.model_failed(exc, p.timings, "answering")
        return AskStream(_answer_events(p, answerer.extractive(p.decision.answer_from)))
    p.timings["first_token_ms"] = (time.perf_counter() - p.started) * 1000
    p.timings["model_first_token_ms"] = (time.perf_counter() - asked) * 1000
    cancelled = threading.Event()
    events = _generated_events(p, answerer, evidence, first, deltas, cancelled)
    return AskStream(events, on_close=closer(deltas), cancelled=cancelled)


def _generated_events(
    p: Prepared,
    answerer: Answerer,
    evidence: list[PromptEvidence],
    first: str,
    deltas: Iterator[str],
    cancelled: threading.Event,
) -> Iterator[AskEvent]:
    replies = ReplyGuard(evidence, answerer.guard, answerer.policy.unsupported, answerer.verifier)
    drop = answerer.policy.unsupported is LlmUnsupported.DROP
    asked = time.perf_counter()
    try:
        for delta in itertools.chain([first], deltas):
            if cancelled.is_set():  # the client went away: stop reading, the model's connection closes
                p.timings["cancelled"] = 1.0
                return
            for v in replies.feed(delta):
                if not v.ok:
                    yield dropped_event(v)
                elif drop:  # under REFUSE, passed sentences wait for the whole reply
                    yield TextEvent(v.sentence)
        fresh, judged = replies.finish()
    finally:
        closer(deltas)()
    p.timings["generate_ms"] = (time.perf_counter() - asked) * 1000
    for v in fresh:
        if v.ok and drop:
            yield TextEvent(v.sentence)
        elif not v.ok:
            yield dropped_event(v)
    if judged.answer is not None:
        if not drop:
            for s in judged.verdicts:
                yield TextEvent(s.sentence)
        yield ResultEvent(p.result(answer=judged.answer))
        return
    yield ResultEvent(p.result(refusal=withheld(judged)))


def _answer_events(p: Prepared, answer: Answer) -> Iterator[AskEvent]:
    for sentence in answer.sentences:
        yield TextEvent(f"{sentence.text} [{sentence.marker}]")
    yield ResultEvent(p.result(answer=answer))


def dropped_event(v: SentenceVerdict) -> DroppedEvent:
    return DroppedEvent(v.dropped())


def closer(deltas: Iterator[str]) -> Callable[[], None]:
    def close() -> None:
        close_stream = getattr(deltas, "close", None)
        if close_stream is not None:
            with contextlib.suppress(ValueError):  # "generator already executing": it stops at its next token
                close_stream()

    return close
