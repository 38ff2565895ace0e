"""The event log port: where asks, drafts, searches and checks are recorded (SQLite or Postgres behind it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from rag.domain.events import Event, EventKind, GapClosure, StoredEvent


class EventLog(Protocol):
    def append(self, events: Sequence[Event]) -> None:
        """Store the events in one transaction. Raises VerityError(STORE_UNAVAILABLE) when it cannot."""
        ...

    def between(self, start: datetime, end: datetime, kinds: Sequence[EventKind] | None = None) -> list[StoredEvent]:
        """Events with start <= at < end, oldest first; all kinds when `kinds` is None."""
        ...

    def naming(self, card_ids: Sequence[str], start: datetime, end: datetime) -> list[StoredEvent]:
        """Events in [start, end) that name any of the cards, in any role, oldest first."""
        ...

    def purge(self, before: datetime) -> int:
        """Delete events older than `before`; how many went."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class EventSink(Protocol):
    """Where a service hands what happened (rag/services/events/recording.py): never raises, never waits."""

    def record(self, event: Event) -> None: ...


class GapClosures(Protocol):
    """Closed gaps, kept beside the events (rag/services/gaps/inbox.py)."""

    def close_gap(self, closure: GapClosure) -> None: ...

    def gap_closures(self) -> list[GapClosure]: ...


class StateEvents(EventLog, GapClosures, Protocol):
    """The state store's side for the knowledge team: the event log and the gaps closed over it."""
