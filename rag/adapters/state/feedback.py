"""Thumbs up / down from support people on answers and reply drafts, kept for the feedback (gap) work.

A port (`FeedbackStore`) with one adapter: SQLite. The file lives beside the embedded Chroma store
(`Settings.data_dir / "feedback.sqlite3"`); several server processes may share it: the journal is WAL, so
readers never block the writer, and a writer waits up to `busy_timeout_ms` for another one instead of
failing. Unit tests use the same adapter on `:memory:`.

The question, answer and cited card ids are what the person's browser sent: a record says what they
rated, not what Verity would answer now. Nothing here reads cards.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from rag.adapters.state.sqlite import retry_while_locked
from rag.domain.clock import Clock, SystemClock
from rag.domain.errors import ErrorCode, VerityError

FEEDBACK_FILE = "feedback.sqlite3"


class Verdict(StrEnum):
    UP = "up"
    DOWN = "down"


class RatedOutcome(StrEnum):
    """What was rated: an answer or a refusal of /v1/ask, or a reply draft."""

    ANSWERED = "answered"
    REFUSED = "refused"
    DRAFTED = "drafted"
    NEEDS_HUMAN = "needs_human"


@dataclass(frozen=True, slots=True)
class NewFeedback:
    question: str
    answer: str | None
    cited_card_ids: tuple[str, ...]
    outcome: RatedOutcome
    reason: str | None  # the refusal reason or the human decision; None when answered or drafted
    verdict: Verdict
    comment: str | None
    subject: str  # who rated it, as the identity dependency resolved them
    groups: frozenset[str]


@dataclass(frozen=True, slots=True)
class StoredFeedback:
    id: int
    created_at: datetime
    feedback: NewFeedback


class FeedbackStore(Protocol):
    def add(self, feedback: NewFeedback) -> StoredFeedback:
        """Store one rating durably and return it with its id."""
        ...

    def recent(self, limit: int, before_id: int | None = None) -> Sequence[StoredFeedback]:
        """Newest first, at most `limit`; `before_id` pages on from the last id of the previous page."""
        ...

    def close(self) -> None:
        """Release the store; the app's lifespan calls it at shutdown."""
        ...


SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT,
    cited_card_ids TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('up', 'down')),
    comment TEXT,
    subject TEXT NOT NULL,
    groups TEXT NOT NULL
)
"""
COLUMNS = "id, created_at, question, answer, cited_card_ids, outcome, reason, verdict, comment, subject, groups"


class SQLiteFeedbackStore:
    """One connection per store, used under a lock: the API calls it from the thread pool."""

    def __init__(self, path: Path | str, clock: Clock | None = None, busy_timeout_ms: int = 5000) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # autocommit (isolation_level=None): each statement is its own transaction, so no lock is held
            # between calls; timeout is the busy timeout another process's write may keep us waiting
            self._db = sqlite3.connect(
                str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            retry_while_locked(lambda: self._db.execute("PRAGMA journal_mode = WAL"), busy_timeout_ms)
            retry_while_locked(lambda: self._db.execute(SCHEMA), busy_timeout_ms)
        except (OSError, sqlite3.Error) as exc:
            raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"cannot open the feedback store: {exc}") from exc

    def add(self, feedback: NewFeedback) -> StoredFeedback:
        created_at = self._clock.now()
        row = (
            created_at.isoformat(),
            feedback.question,
            feedback.answer,
            json.dumps(list(feedback.cited_card_ids)),
            feedback.outcome.value,
            feedback.reason,
            feedback.verdict.value,
            feedback.comment,
            feedback.subject,
            json.dumps(sorted(feedback.groups)),
        )
        with self._lock, _store_errors("store"):
            cursor = self._db.execute(
                f"INSERT INTO feedback ({COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row
            )
            new_id = cursor.lastrowid
        assert new_id is not None
        return StoredFeedback(id=new_id, created_at=created_at, feedback=feedback)

    def recent(self, limit: int, before_id: int | None = None) -> list[StoredFeedback]:
        if limit < 1:
            raise VerityError(ErrorCode.INVALID_REQUEST, "limit must be at least 1")
        with self._lock, _store_errors("read"):
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM feedback WHERE id < ? ORDER BY id DESC LIMIT ?",
                (before_id if before_id is not None else 2**63 - 1, limit),
            ).fetchall()
        return [_stored(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


@contextmanager
def _store_errors(action: str) -> Iterator[None]:
    """A locked or broken database becomes STORE_UNAVAILABLE (503), never a 500 with a traceback."""
    try:
        yield
    except sqlite3.Error as exc:
        raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"cannot {action} feedback: {exc}") from exc


def _stored(row: tuple[object, ...]) -> StoredFeedback:
    (id_, created_at, question, answer, cited, outcome, reason, verdict, comment, subject, groups) = row
    return StoredFeedback(
        id=int(str(id_)),
        created_at=datetime.fromisoformat(str(created_at)),
        feedback=NewFeedback(
            question=str(question),
            answer=None if answer is None else str(answer),
            cited_card_ids=tuple(json.loads(str(cited))),
            outcome=RatedOutcome(str(outcome)),
            reason=None if reason is None else str(reason),
            verdict=Verdict(str(verdict)),
            comment=None if comment is None else str(comment),
            subject=str(subject),
            groups=frozenset(json.loads(str(groups))),
        ),
    )
