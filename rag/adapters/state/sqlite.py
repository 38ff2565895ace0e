"""What every SQLite file of Verity's state needs when several processes open it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable


def retry_while_locked(statement: Callable[[], object], timeout_ms: int) -> None:
    """Run a statement SQLite may refuse at once with "database is locked", without calling its busy handler.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY straight away when
    another process is opening the same file (the busy timeout does not apply), so several servers or
    workers starting together would fail. Retry with a short back-off for up to the busy timeout.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    pause = 0.005
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
