"""A streamed answer: the events `Verity.ask_stream` yields (rag/services/ask.py), and how its model stream is
closed when the client goes away."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rag.answering.guard.core import SentenceVerdict
from rag.domain.types import AskResult, DroppedSentence


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
    ) -> None:
        self._events = events
        self._on_close = on_close
        self.cancelled = cancelled or threading.Event()

    def __iter__(self) -> Iterator[AskEvent]:
        for event in self._events:
            if self.cancelled.is_set():
                break
            yield event

    def close(self) -> None:
        """Safe from any thread, also while an event is being produced: generation stops at the next token."""
        self.cancelled.set()
        if self._on_close is not None:
            self._on_close()


def dropped_event(v: SentenceVerdict) -> DroppedEvent:
    return DroppedEvent(DroppedSentence(v.sentence, str(v.problem), v.detail))


def closer(deltas: Iterator[str]) -> Callable[[], None]:
    def close() -> None:
        close_stream = getattr(deltas, "close", None)
        if close_stream is not None:
            with contextlib.suppress(ValueError):  # "generator already executing": it stops at its next token
                close_stream()

    return close
