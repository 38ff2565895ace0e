"""The event log port: where asks, drafts, searches and checks are recorded (SQLite or Postgres behind it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from rag.domain.events import Event, EventKind, StoredEvent


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
