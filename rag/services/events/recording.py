"""Recording events without slowing or failing an answer: a bounded queue and one writer thread.

`record()` only puts the event on a queue (no I/O on the answer's path). The writer appends what has
queued in batches; a batch the log refuses is retried with back-off a few times, then counted as lost and
logged. A full queue (the log down for long, or too slow) drops the newest event, counted and logged: an
answer never waits for the record of it. The writer also purges events past the retention, at start and
then every `purge_every`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta

from rag.domain.clock import Clock
from rag.domain.events import Event
from rag.ports.events import EventLog

log = logging.getLogger("verity.events")

_STOP = object()


@dataclass(frozen=True, slots=True)
class RecorderStats:
    recorded: int  # appended to the log
    dropped: int  # the queue was full
    failed: int  # the log refused them, retries spent
    purged: int


@dataclass(frozen=True, slots=True)
class RecorderPolicy:
    retention: timedelta = timedelta(days=90)
    max_queue: int = 10_000
    batch: int = 256
    retries: int = 3
    backoff_s: float = 0.5  # doubled after each failed try
    purge_every: timedelta = timedelta(hours=6)
    keep_text: bool = True  # False: the question's text is dropped before it is queued


class EventRecorder:
    def __init__(self, events: EventLog, clock: Clock, policy: RecorderPolicy | None = None) -> None:
        self._log = events
        self._clock = clock
        self._policy = policy or RecorderPolicy()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=self._policy.max_queue)
        self._lock = threading.Lock()
        self._recorded = self._dropped = self._failed = self._purged = 0
        self._next_purge = 0.0
        self._thread = threading.Thread(target=self._run, name="verity-events", daemon=True)
        self._thread.start()

    def record(self, event: Event) -> None:
        if not self._policy.keep_text and event.question is not None:
            event = replace(event, question=None)
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._lock:
                self._dropped += 1
                dropped = self._dropped
            if dropped == 1 or dropped % 1000 == 0:
                log.warning("event queue full (%d): %d events dropped so far", self._policy.max_queue, dropped)

    def stats(self) -> RecorderStats:
        with self._lock:
            return RecorderStats(self._recorded, self._dropped, self._failed, self._purged)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written or counted lost (tests, shutdown)."""
        done = threading.Event()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._queue.put(done, timeout=0.1)
                break
            except queue.Full:
                continue
        return done.wait(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._purge_if_due()
            try:
                first = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            batch, markers, stop = self._drain(first)
            if batch:
                self._write(batch)
            for marker in markers:
                marker.set()
            if stop:
                return

    def _drain(self, first: object) -> tuple[list[Event], list[threading.Event], bool]:
        batch: list[Event] = []
        markers: list[threading.Event] = []
        item: object = first
        while True:
            if item is _STOP:
                return batch, markers, True
            if isinstance(item, threading.Event):
                markers.append(item)
            elif isinstance(item, Event):
                batch.append(item)
            if len(batch) >= self._policy.batch:
                return batch, markers, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, markers, False

    def _write(self, batch: list[Event]) -> None:
        pause = self._policy.backoff_s
        for attempt in range(self._policy.retries + 1):
            try:
                self._log.append(batch)
            except Exception as exc:
                if attempt == self._policy.retries:
                    with self._lock:
                        self._failed += len(batch)
                    log.error("%d events lost: the event log refused them: %s", len(batch), exc)
                    return
                time.sleep(pause)
                pause *= 2
            else:
                with self._lock:
                    self._recorded += len(batch)
                return

    def _purge_if_due(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self._policy.purge_every.total_seconds()
        try:
            purged = self._log.purge(self._clock.now() - self._policy.retention)
        except Exception as exc:
            log.warning("cannot purge old events: %s", exc)
            return
        with self._lock:
            self._purged += purged
        if purged:
            log.info("purged %d events older than %s", purged, self._policy.retention)
