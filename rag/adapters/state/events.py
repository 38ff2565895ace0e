"""The event log on SQLAlchemy Core: SQLite under `VERITY_DATA_DIR` by default, any SQLAlchemy URL otherwise.

Two tables: `events` (one row per ask, draft, search or check) and `event_cards` (which cards an event
named, and how), so "the refusals that named this card" is an indexed lookup, not a scan of JSON. Times
are stored as UTC microseconds since the epoch: the same integer compares the same way in every database.
The question's embedding is kept as little-endian float32 bytes (1.5 kB for 384 dimensions).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from rag.adapters.state.sqlite import retry_while_locked
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.events import (
    CardRole,
    Channel,
    Event,
    EventCard,
    EventKind,
    EventOutcome,
    GapClosure,
    StoredEvent,
)
from rag.domain.types import RefusalReason

EVENTS_FILE = "state.sqlite3"

metadata = MetaData()
# SQLite gives rowid aliases only to INTEGER PRIMARY KEY; BigInteger elsewhere (Postgres: bigserial)
_ID = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(32)),
    Column("language", String(16)),
    Column("groups", Text, nullable=False),  # JSON list, sorted
    Column("subject", String(128), nullable=False),
    Column("question", Text),
    Column("vector", LargeBinary),
)

event_cards = Table(
    "event_cards",
    metadata,
    Column("event_id", _ID, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("card_id", String(512), primary_key=True),
    Column("role", String(16), primary_key=True),
    Index("event_cards_card", "card_id"),
)


gap_closures = Table(
    "gap_closures",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("event_ids", Text, nullable=False),  # JSON list: the events the gap held when it was closed
    Column("card_id", String(512), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("by", String(128), nullable=False),
)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / EVENTS_FILE}"


def _micros(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _instant(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def _engine(url: str, busy_timeout_ms: int) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if not memory:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        poolclass=StaticPool if memory else None,  # one shared connection keeps an in-memory database alive
    )

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not memory:
            retry_while_locked(lambda: cursor.execute("PRAGMA journal_mode = WAL"), busy_timeout_ms)
        cursor.close()

    return engine


class SqlEventLog:
    """Thread-safe: SQLAlchemy's pool hands each call its own connection (one shared one for `:memory:`)."""

    def __init__(self, url: str, busy_timeout_ms: int = 5000) -> None:
        try:
            self._engine = _engine(url, busy_timeout_ms)
            metadata.create_all(self._engine)
        except (OSError, SQLAlchemyError) as exc:
            raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"cannot open the event log: {_brief(exc)}") from exc

    def append(self, batch: Sequence[Event]) -> None:
        if not batch:
            return
        with self._errors("record events"), self._engine.begin() as db:
            ids = db.execute(
                insert(events).returning(events.c.id, sort_by_parameter_order=True), [_row(e) for e in batch]
            ).scalars()
            links = [
                {"event_id": event_id, "card_id": c.card_id, "role": c.role.value}
                for event_id, e in zip(ids, batch, strict=True)
                for c in dict.fromkeys(e.cards)  # an event names a card in a role once
            ]
            if links:
                db.execute(insert(event_cards), links)

    def between(self, start: datetime, end: datetime, kinds: Sequence[EventKind] | None = None) -> list[StoredEvent]:
        query = select(events).where(events.c.at_us >= _micros(start), events.c.at_us < _micros(end))
        if kinds is not None:
            query = query.where(events.c.kind.in_([k.value for k in kinds]))
        return self._read(query.order_by(events.c.at_us, events.c.id))

    def naming(self, card_ids: Sequence[str], start: datetime, end: datetime) -> list[StoredEvent]:
        if not card_ids:
            return []
        named = select(event_cards.c.event_id).where(event_cards.c.card_id.in_(list(card_ids)))
        query = select(events).where(
            events.c.id.in_(named), events.c.at_us >= _micros(start), events.c.at_us < _micros(end)
        )
        return self._read(query.order_by(events.c.at_us, events.c.id))

    def purge(self, before: datetime) -> int:
        old = select(events.c.id).where(events.c.at_us < _micros(before))
        with self._errors("purge events"), self._engine.begin() as db:
            db.execute(delete(event_cards).where(event_cards.c.event_id.in_(old)))
            return int(db.execute(delete(events).where(events.c.at_us < _micros(before))).rowcount or 0)

    def count(self) -> int:
        with self._errors("count events"), self._engine.connect() as db:
            return int(db.execute(select(func.count()).select_from(events)).scalar_one())

    def close_gap(self, closure: GapClosure) -> None:
        row = {
            "event_ids": json.dumps(sorted(closure.event_ids)),
            "card_id": closure.card_id,
            "at_us": _micros(closure.at),
            "by": closure.by,
        }
        with self._errors("close the gap"), self._engine.begin() as db:
            db.execute(insert(gap_closures), [row])

    def gap_closures(self) -> list[GapClosure]:
        """Oldest first: a later closure of the same gap wins."""
        with self._errors("read gap closures"), self._engine.connect() as db:
            rows = db.execute(select(gap_closures).order_by(gap_closures.c.id)).all()
        return [GapClosure(frozenset(json.loads(r.event_ids)), r.card_id, _instant(r.at_us), r.by) for r in rows]

    def close(self) -> None:
        self._engine.dispose()

    def _read(self, query: Any) -> list[StoredEvent]:
        with self._errors("read events"), self._engine.connect() as db:
            rows = db.execute(query).all()
            links: dict[int, list[EventCard]] = {}
            ids = [r.id for r in rows]
            for start in range(0, len(ids), 500):  # within every database's bound-parameter limit
                chunk = ids[start : start + 500]
                for link in db.execute(select(event_cards).where(event_cards.c.event_id.in_(chunk))):
                    links.setdefault(link.event_id, []).append(EventCard(link.card_id, CardRole(link.role)))
        return [StoredEvent(id=r.id, event=_event(r, links.get(r.id, []))) for r in rows]

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """A broken or locked database becomes STORE_UNAVAILABLE, never a 500 with a traceback."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"cannot {action}: {_brief(exc)}") from exc


def _brief(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


def _row(e: Event) -> dict[str, object]:
    return {
        "at_us": _micros(e.at),
        "kind": e.kind.value,
        "channel": e.channel.value,
        "outcome": e.outcome.value,
        "reason": e.reason.value if e.reason else None,
        "language": e.language,
        "groups": json.dumps(sorted(e.groups)),
        "subject": e.subject,
        "question": e.question,
        "vector": np.asarray(e.vector, dtype="<f4").tobytes() if e.vector is not None else None,
    }


def _event(r: Row[Any], cards: list[EventCard]) -> Event:
    order = {c: i for i, c in enumerate(CardRole)}
    return Event(
        at=_instant(r.at_us),
        kind=EventKind(r.kind),
        channel=Channel(r.channel),
        outcome=EventOutcome(r.outcome),
        reason=RefusalReason(r.reason) if r.reason else None,
        language=r.language,
        cards=tuple(sorted(cards, key=lambda c: (order[c.role], c.card_id))),
        groups=frozenset(json.loads(r.groups)),
        subject=r.subject,
        question=r.question,
        vector=tuple(float(x) for x in np.frombuffer(r.vector, dtype="<f4")) if r.vector is not None else None,
    )


class UnavailableEventLog:
    """Stands in for a log that could not be opened: every call fails as the log would, so the recorder
    counts and logs the lost events while answers go on."""

    def __init__(self, error: VerityError) -> None:
        self._error = error

    def append(self, batch: Sequence[Event]) -> None:
        raise self._error

    def between(self, start: datetime, end: datetime, kinds: Sequence[EventKind] | None = None) -> list[StoredEvent]:
        raise self._error

    def naming(self, card_ids: Sequence[str], start: datetime, end: datetime) -> list[StoredEvent]:
        raise self._error

    def purge(self, before: datetime) -> int:
        raise self._error

    def count(self) -> int:
        raise self._error

    def close_gap(self, closure: GapClosure) -> None:
        raise self._error

    def gap_closures(self) -> list[GapClosure]:
        raise self._error

    def close(self) -> None:
        pass
