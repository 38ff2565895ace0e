"""One writer process per embedded store.

Chroma's embedded store (PersistentClient) keeps its vector index in the memory of the process that opened
it and is not safe to share between processes: after `verity ingest` changed one card in the folder of a
running `verity serve`, every ask and search of that server failed (503, "Error finding id" inside
Chroma) until it was restarted (issue 16). So the processes that write an embedded store, `verity serve`
(its verify, unverify and delete routes) and `verity ingest`, hold an exclusive lock on the data folder
for as long as they run, and a second one stops at once with a message that says who holds the folder
and what to do instead. A Chroma server (`VERITY_CHROMA_HOST`) is shared safely and takes no lock.

The lock is `flock` on `<data dir>/writer.lock`: the kernel releases it when its process ends, however it
ends (SIGKILL included), so a stale file never blocks anyone; its text only names the holder.
"""

from __future__ import annotations

import fcntl
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rag.domain.errors import ErrorCode, VerityError

LOCK_NAME = "writer.lock"


@dataclass
class StoreLock:
    path: Path
    handle: IO[str]

    def release(self) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def hold_store(data_dir: Path, role: str) -> StoreLock:
    """The exclusive lock of the embedded store in `data_dir` for this process (`role`: what it is, for the
    message another process shows), or VerityError(STORE_UNAVAILABLE) naming the process that holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise VerityError(
            ErrorCode.STORE_UNAVAILABLE,
            f"{holder} is using the embedded store in {data_dir}. Chroma's embedded store cannot be shared "
            "between processes (a running server stops answering when another process writes into its "
            "folder), so only one Verity process writes it at a time. Stop the server, ingest, and start it "
            "again; or run Chroma as a server (`chroma run`, VERITY_CHROMA_HOST), which any number of "
            "servers and ingests share safely.",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{role} (pid {os.getpid()}: {' '.join(sys.argv[:3])})\n")
    handle.flush()
    return StoreLock(path, handle)
