"""Every store call has a deadline and every failure is STORE_UNAVAILABLE (503), never a raw exception."""

from __future__ import annotations

import threading
import time

import pytest

from rag.adapters.chroma.calls import StoreCalls
from rag.domain.errors import ErrorCode, VerityError


def test_a_call_that_answers_in_time_returns_its_value() -> None:
    assert StoreCalls(1.0).read("get", lambda: 42) == 42


def test_a_frozen_store_is_unavailable_within_the_timeout() -> None:
    released = threading.Event()
    calls = StoreCalls(0.05)
    started = time.monotonic()
    with pytest.raises(VerityError) as raised:
        calls.read("query", lambda: released.wait(5))
    assert time.monotonic() - started < 1.0
    assert raised.value.code is ErrorCode.STORE_UNAVAILABLE
    assert "did not answer (query) within 0.05 s" in raised.value.message
    released.set()


def test_writes_get_a_longer_deadline_than_reads() -> None:
    def slow_write() -> str:
        time.sleep(0.1)
        return "written"

    calls = StoreCalls(0.02)
    assert calls.write("upsert", slow_write) == "written"
    with pytest.raises(VerityError):
        calls.read("get", lambda: time.sleep(0.1))


def test_any_failure_of_the_store_is_store_unavailable_without_its_text() -> None:
    def broken() -> None:
        raise KeyError("groups")  # e.g. a record half-written by a concurrent sync

    with pytest.raises(VerityError) as raised:
        StoreCalls(1.0).read("get", broken)
    assert raised.value.code is ErrorCode.STORE_UNAVAILABLE
    assert "groups" not in raised.value.message


def test_a_verity_error_passes_through_unchanged() -> None:
    def mismatch() -> None:
        raise VerityError(ErrorCode.EMBEDDER_MISMATCH, "other embedder")

    with pytest.raises(VerityError) as raised:
        StoreCalls(1.0).read("open", mismatch)
    assert raised.value.code is ErrorCode.EMBEDDER_MISMATCH
