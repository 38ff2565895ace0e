"""Opening a shared SQLite file: "database is locked" answered without the busy handler is retried, briefly."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from rag.adapters.state.sqlite import retry_while_locked


def flaky(failures: int, message: str = "database is locked") -> tuple[list[int], Callable[[], None]]:
    calls: list[int] = []

    def statement() -> None:
        calls.append(1)
        if len(calls) <= failures:
            raise sqlite3.OperationalError(message)

    return calls, statement


def test_a_lock_that_clears_is_waited_for() -> None:
    calls, statement = flaky(3)
    retry_while_locked(statement, timeout_ms=5000)
    assert len(calls) == 4


def test_a_lock_that_does_not_clear_fails_within_the_timeout() -> None:
    calls, statement = flaky(10_000)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_while_locked(statement, timeout_ms=50)
    assert 1 < len(calls) < 20


def test_other_errors_are_not_retried() -> None:
    calls, statement = flaky(1, "no such table: feedback")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_while_locked(statement, timeout_ms=5000)
    assert len(calls) == 1
