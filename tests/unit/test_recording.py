"""The event recorder: an answer never waits for, nor fails because of, the record of it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from rag.domain.clock import FixedClock
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.events import Channel, Event, EventKind, EventOutcome, StoredEvent
from rag.services.events.recording import EventRecorder, RecorderPolicy

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FAST = RecorderPolicy(backoff_s=0.001, retries=2)


def event(n: int = 0) -> Event:
    return Event(NOW, EventKind.ASK, Channel.HTTP, EventOutcome.ANSWERED, None, "en", (), frozenset(), "s", f"q{n}")


class ListLog:
    """An event log in a list; `failing` makes every call refuse, `gate` holds appends until set."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.failing = False
        self.gate = threading.Event()
        self.gate.set()
        self.purge_fails = False
        self.purged_before: list[datetime] = []

    def append(self, events: Sequence[Event]) -> None:
        self.gate.wait()
        if self.failing:
            raise VerityError(ErrorCode.STORE_UNAVAILABLE, "the event log is down")
        self.events.extend(events)

    def between(self, start: datetime, end: datetime, kinds: object = None) -> list[StoredEvent]:
        return []

    def naming(self, card_ids: Sequence[str], start: datetime, end: datetime) -> list[StoredEvent]:
        return []

    def purge(self, before: datetime) -> int:
        if self.purge_fails:
            raise RuntimeError("no purge today")
        self.purged_before.append(before)
        return 0

    def count(self) -> int:
        return len(self.events)

    def close(self) -> None:
        pass


def test_events_reach_the_log_in_order() -> None:
    log = ListLog()
    recorder = EventRecorder(log, FixedClock(NOW), FAST)
    for n in range(600):
        recorder.record(event(n))
    assert recorder.flush()
    assert [e.question for e in log.events] == [f"q{n}" for n in range(600)]
    assert recorder.stats().recorded == 600
    recorder.close()


def test_a_log_that_refuses_loses_the_batch_counted_and_logged_and_the_writer_lives_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = ListLog()
    log.failing = True
    recorder = EventRecorder(log, FixedClock(NOW), FAST)
    with caplog.at_level(logging.ERROR, logger="verity.events"):
        recorder.record(event(1))
        assert recorder.flush()
    assert recorder.stats().failed == 1
    assert "1 events lost" in caplog.text and "the event log is down" in caplog.text
    log.failing = False
    recorder.record(event(2))
    assert recorder.flush()
    assert [e.question for e in log.events] == ["q2"]
    recorder.close()


def test_a_hung_log_never_holds_up_record_and_a_full_queue_drops_counted() -> None:
    log = ListLog()
    log.gate.clear()  # every append hangs until the gate opens
    recorder = EventRecorder(log, FixedClock(NOW), RecorderPolicy(max_queue=10, batch=1))
    started = time.perf_counter()
    for n in range(100):
        recorder.record(event(n))
    assert time.perf_counter() - started < 0.5
    assert recorder.stats().dropped >= 100 - 10 - 1  # one taken by the hung writer, ten queued
    log.gate.set()
    assert recorder.flush()
    stats = recorder.stats()
    assert stats.recorded + stats.dropped == 100 and stats.failed == 0
    recorder.close()


def test_the_writer_purges_past_the_retention_and_survives_a_failed_purge() -> None:
    log = ListLog()
    recorder = EventRecorder(log, FixedClock(NOW), RecorderPolicy(retention=timedelta(days=30)))
    assert recorder.flush()
    assert log.purged_before == [NOW - timedelta(days=30)]
    recorder.close()

    broken = ListLog()
    broken.purge_fails = True
    recorder = EventRecorder(broken, FixedClock(NOW), FAST)
    recorder.record(event(3))
    assert recorder.flush()
    assert [e.question for e in broken.events] == ["q3"] and recorder.stats().purged == 0
    recorder.close()
