"""Every call to Chroma under a deadline, any failure turned into STORE_UNAVAILABLE (503)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from chromadb.api.models.Collection import Collection
from chromadb.api.types import GetResult, QueryResult

from rag.domain.errors import ErrorCode, VerityError

log = logging.getLogger("verity")
T = TypeVar("T")

WRITE_TIMEOUT_FACTOR = 12  # writes may take this many times the read timeout (a 1,000-record upsert indexes HNSW)
STORE_WORKERS = 32  # threads that run store calls; a frozen store can hold them all, later calls still time out
PAGE = 5_000  # records per read of a paged scan


class StoreCalls:
    """Runs every call to Chroma with a deadline and turns any failure into STORE_UNAVAILABLE (503).

    A frozen store (a stopped server, a held lock) must not hold requests or health checks: the caller waits at
    most `timeout_s` (writes `WRITE_TIMEOUT_FACTOR` times that) and gets a VerityError; the call itself is
    left to finish or fail on its worker thread, which Python cannot interrupt. Nothing else about a failure
    (connection refused, a server error, a half-written record) reaches the caller as anything but
    STORE_UNAVAILABLE, so no store fault is ever a 500.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=STORE_WORKERS, thread_name_prefix="verity-store")

    def read(self, what: str, call: Callable[[], T]) -> T:
        return self._run(what, call, self.timeout_s)

    def write(self, what: str, call: Callable[[], T]) -> T:
        return self._run(what, call, self.timeout_s * WRITE_TIMEOUT_FACTOR)

    def _run(self, what: str, call: Callable[[], T], timeout_s: float) -> T:
        future = self._pool.submit(call)
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout as exc:
            future.cancel()  # still queued behind frozen calls: never run it
            raise VerityError(
                ErrorCode.STORE_UNAVAILABLE, f"the Chroma store did not answer ({what}) within {timeout_s:g} s"
            ) from exc
        except VerityError:
            raise
        except Exception as exc:
            log.warning("Chroma %s failed: %s: %s", what, type(exc).__name__, exc)
            raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"the Chroma store failed ({what})") from exc


class GuardedCollection:
    """The Chroma collection's calls, each through `StoreCalls` (a deadline; failures are STORE_UNAVAILABLE)."""

    def __init__(self, collection: Collection, calls: StoreCalls) -> None:
        self._collection = collection
        self._calls = calls

    def get(self, **kwargs: Any) -> GetResult:
        return self._calls.read("get", lambda: self._collection.get(**kwargs))

    def pages(self, where: Any, include: Any) -> Iterator[GetResult]:
        """Every record `where` selects, `PAGE` records per call (one call cannot return a large KB)."""
        offset = 0
        while True:
            page = self.get(where=where, include=include, limit=PAGE, offset=offset)
            yield page
            if len(page["ids"]) < PAGE:
                return
            offset += PAGE

    def query(self, **kwargs: Any) -> QueryResult:
        return self._calls.read("query", lambda: self._collection.query(**kwargs))

    def upsert(self, **kwargs: Any) -> None:
        self._calls.write("upsert", lambda: self._collection.upsert(**kwargs))

    def update(self, **kwargs: Any) -> None:
        self._calls.write("update", lambda: self._collection.update(**kwargs))

    def delete(self, **kwargs: Any) -> None:
        self._calls.write("delete", lambda: self._collection.delete(**kwargs))

    def modify(self, **kwargs: Any) -> None:
        self._calls.write("modify", lambda: self._collection.modify(**kwargs))
