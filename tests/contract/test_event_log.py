"""The event log's contract (`rag.ports.events.EventLog`), held against SQLite in memory and in a file.

The operations issue adds Postgres behind the same SQLAlchemy adapter; its fixture joins the list here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rag.adapters.state.events import SqlEventLog, sqlite_url
from rag.domain.events import CardRole, Channel, Event, EventCard, EventKind, EventOutcome
from rag.domain.types import RefusalReason
from rag.ports.events import EventLog

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LogFactory = Callable[[], EventLog]


def event(at: datetime = T0, **overrides: object) -> Event:
    fields: dict[str, object] = {
        "at": at,
        "kind": EventKind.ASK,
        "channel": Channel.HTTP,
        "outcome": EventOutcome.REFUSED,
        "reason": RefusalReason.ONLY_EXPIRED,
        "language": "tr",
        "cards": (EventCard("refund", CardRole.CANDIDATE),),
        "groups": frozenset({"support"}),
        "subject": "key-1a2b",
        "question": "İade ne kadar sürer?",
        "vector": (0.5, -0.25, 0.125),
    }
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite-memory", "sqlite-file"])
def open_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogFactory]:
    url = "sqlite://" if request.param == "sqlite-memory" else sqlite_url(tmp_path)
    opened: list[SqlEventLog] = []

    def factory() -> EventLog:
        if opened and url == "sqlite://":
            return opened[0]  # one process's memory: every handle is the same log
        opened.append(SqlEventLog(url))
        return opened[-1]

    yield factory
    for log in opened:
        log.close()


def test_an_event_reads_back_as_written(open_log: LogFactory) -> None:
    written = event(cards=(EventCard("returns", CardRole.CITED), EventCard("refund", CardRole.CANDIDATE)))
    log = open_log()
    log.append([written])
    [stored] = log.between(T0, T0 + timedelta(seconds=1))
    assert stored.event == written  # cards come back cited first, then candidates, each by id
    assert stored.event.card_ids(CardRole.CITED) == ("returns",)


def test_optional_fields_stay_empty(open_log: LogFactory) -> None:
    bare = event(reason=None, language=None, cards=(), groups=frozenset(), question=None, vector=None)
    log = open_log()
    log.append([bare])
    assert [s.event for s in log.between(T0, T0 + timedelta(seconds=1))] == [bare]


def test_times_keep_microseconds_and_any_timezone(open_log: LogFactory) -> None:
    at = datetime(2026, 11, 22, 15, 0, 0, 123456, tzinfo=UTC).astimezone(
        datetime(2026, 1, 1, tzinfo=UTC).astimezone().tzinfo
    )
    log = open_log()
    log.append([event(at=at)])
    [stored] = log.between(at, at + timedelta(microseconds=1))
    assert stored.event.at == at and stored.event.at.tzinfo is UTC


def test_a_window_is_half_open_and_oldest_first(open_log: LogFactory) -> None:
    log = open_log()
    log.append([event(T0 + timedelta(minutes=m), question=f"q{m}") for m in (3, 0, 1, 2)])
    window = log.between(T0, T0 + timedelta(minutes=2))
    assert [s.event.question for s in window] == ["q0", "q1"]
    assert window[0].id != window[1].id


def test_kinds_filter(open_log: LogFactory) -> None:
    log = open_log()
    log.append([event(kind=EventKind.ASK), event(kind=EventKind.DRAFT), event(kind=EventKind.SEARCH)])
    found = log.between(T0, T0 + timedelta(seconds=1), kinds=[EventKind.ASK, EventKind.DRAFT])
    assert sorted(s.event.kind for s in found) == [EventKind.ASK, EventKind.DRAFT]


def test_events_naming_a_card(open_log: LogFactory) -> None:
    log = open_log()
    log.append(
        [
            event(question="names refund", cards=(EventCard("refund", CardRole.CANDIDATE),)),
            event(question="cites refund", cards=(EventCard("refund", CardRole.CITED),)),
            event(question="other", cards=(EventCard("vpn", CardRole.CITED),)),
            event(question="none", cards=()),
        ]
    )
    named = log.naming(["refund"], T0, T0 + timedelta(seconds=1))
    assert [s.event.question for s in named] == ["names refund", "cites refund"]
    assert log.naming([], T0, T0 + timedelta(seconds=1)) == []


def test_a_card_named_twice_in_one_role_is_kept_once(open_log: LogFactory) -> None:
    log = open_log()
    twice = EventCard("refund", CardRole.CITED)
    log.append([event(cards=(twice, twice))])
    [stored] = log.between(T0, T0 + timedelta(seconds=1))
    assert stored.event.cards == (twice,)


def test_purge_removes_only_what_is_older_and_its_card_links(open_log: LogFactory) -> None:
    log = open_log()
    log.append([event(T0 - timedelta(days=100), question="old"), event(T0, question="new")])
    assert log.purge(T0 - timedelta(days=90)) == 1
    assert log.count() == 1
    assert [s.event.question for s in log.naming(["refund"], T0 - timedelta(days=365), T0 + timedelta(1))] == ["new"]


def test_a_batch_is_stored_whole_and_seen_by_another_handle(open_log: LogFactory) -> None:
    open_log().append([event(question=f"q{n}") for n in range(600)])  # past one IN (...) chunk of reads
    other = open_log()
    stored = other.between(T0, T0 + timedelta(seconds=1))
    assert len(stored) == 600 and all(s.event.cards for s in stored)
    assert other.count() == 600


def test_an_empty_batch_is_nothing(open_log: LogFactory) -> None:
    log = open_log()
    log.append([])
    assert log.count() == 0
