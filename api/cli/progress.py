"""Ingest progress for people: a bar with rate and ETA on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

log = logging.getLogger("verity.ingest")


class BarProgress:
    def __init__(self, total: int | None, console: Console) -> None:
        self._progress = Progress(
            TextColumn("ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("ingest", total=total, rate="")
        self._started = time.perf_counter()
        self._cards = 0

    def __enter__(self) -> BarProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, cards: int, tokens: int) -> None:
        self._cards += cards
        rate = self._cards / max(time.perf_counter() - self._started, 1e-9)
        self._progress.update(self._task, advance=cards, rate=f"{rate:,.1f} cards/s")


class LogProgress:
    """One line at most every `every_s` seconds: readable in CI logs and files."""

    def __init__(self, total: int | None, every_s: float = 5.0) -> None:
        self._total = total
        self._every_s = every_s
        self._started = self._last = time.perf_counter()
        self._cards = 0
        self._tokens = 0

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def advance(self, cards: int, tokens: int) -> None:
        self._cards += cards
        self._tokens += tokens
        now = time.perf_counter()
        if now - self._last < self._every_s:
            return
        self._last = now
        elapsed = now - self._started
        rate = self._cards / elapsed
        if self._total:
            eta = max(self._total - self._cards, 0) / rate if rate else float("inf")
            log.info(
                "%d/%d cards, %.1f cards/s, %d tokens embedded, ETA %.0f s",
                self._cards,
                self._total,
                rate,
                self._tokens,
                eta,
            )
        else:
            log.info("%d cards, %.1f cards/s, %d tokens embedded", self._cards, rate, self._tokens)
