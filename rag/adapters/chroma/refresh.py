"""A value derived from the store and rebuilt only when the store changed (thread-safe)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Refreshed(Generic[T]):
    """`build()` again when `stamp()` differs from the last build's; `stamp()` is read at most every `ttl_s`."""

    def __init__(self, ttl_s: float, stamp: Callable[[], object], build: Callable[[], T]) -> None:
        self._ttl_s = ttl_s
        self._stamp = stamp
        self._build = build
        self._lock = threading.Lock()
        self._state: tuple[float, object, T] | None = None  # (checked at, stamp, value)

    def get(self) -> T:
        now = time.monotonic()
        with self._lock:
            state = self._state
        if state is not None and now - state[0] < self._ttl_s:
            return state[2]
        stamp = self._stamp()
        value = state[2] if state is not None and state[1] == stamp else self._build()
        with self._lock:
            self._state = (now, stamp, value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._state = None
