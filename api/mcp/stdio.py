"""`verity mcp`: Verity's MCP tools on stdio, for agent clients that start a local process.

The identity rule is the HTTP one: without read keys the asker's groups are the `--group` flags; with read
keys (VERITY_READ_KEYS) the process needs a key (`--key-file`, so that it never shows in a process list)
and sees that key's groups, which `--group` may only narrow. The same tools are served over HTTP at `/mcp`
by `verity serve` (api/mcp/http.py).

Top-level imports stay light: `verity --help` imports this module to build its parser.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.domain.errors import ErrorCode, VerityError

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.domain.types import Asker


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `verity mcp` (the stdio server for local clients)."""
    parser.add_argument(
        "--group", action="append", default=[], help="a group of the agent (repeatable); with a key, one it holds"
    )
    parser.add_argument(
        "--key-file", type=Path, default=None, help="file holding a read key (needed when VERITY_READ_KEYS is set)"
    )


def stdio_asker(settings: Settings, groups: Sequence[str], key_file: Path | None) -> Asker:
    """The one asker of a stdio server, by the REST API's rule (api/http/deps.py); refused -> VerityError."""
    from api.http.auth import GroupNotHeldError
    from api.http.deps import resolver_for
    from api.mcp.http import group_names

    resolver = resolver_for(settings)
    keyed = bool(settings.read_key_groups())
    if key_file is not None and not keyed:
        raise VerityError(ErrorCode.INVALID_REQUEST, "--key-file is given but VERITY_READ_KEYS is not set")
    if key_file is None and keyed:
        raise VerityError(ErrorCode.UNAUTHORIZED, "VERITY_READ_KEYS is set: give a read key with --key-file")
    authorization = f"Bearer {_read_key(key_file)}" if key_file is not None else None
    try:
        caller = resolver.caller(authorization)
    except VerityError:
        raise VerityError(ErrorCode.UNAUTHORIZED, "the key in --key-file is not a read key") from None
    try:
        return caller.asker(group_names(groups, "--group"))
    except GroupNotHeldError as exc:
        raise VerityError(ErrorCode.UNAUTHORIZED, exc.message) from None


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise VerityError(ErrorCode.INVALID_REQUEST, f"cannot read --key-file {str(path)!r}: {exc.strerror}") from None


def main(args: argparse.Namespace) -> int:
    from api.app import catalog_for
    from api.mcp.tools import build_mcp_server, fixed_asker
    from rag.adapters.store_lock import hold_store
    from rag.bootstrap import build_gap_inbox, build_recorder, build_runtime, open_event_log
    from rag.config import Settings
    from rag.domain.events import Channel

    settings = Settings()
    asker = stdio_asker(settings, args.group, args.key_file)
    # A process reading the embedded store fails on every query once another process wrote into its folder
    # (rag/adapters/store_lock.py), so this long-lived reader holds the folder like `verity serve`: an ingest into it is
    # refused instead. A Chroma server (VERITY_CHROMA_HOST) is shared safely and takes no lock.
    lock = hold_store(settings.data_dir, "verity mcp") if settings.chroma_host is None else None
    try:
        # stdout is the protocol channel: anything a library prints while the runtime is built goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            runtime = build_runtime(settings)
            events = open_event_log(settings)
            recorder = build_recorder(settings, events, runtime.clock)
            verity = runtime.verity.recording(recorder, Channel.MCP)
            gaps = build_gap_inbox(runtime, events)
            server = build_mcp_server(verity, catalog_for(runtime), fixed_asker(asker), gaps)
        try:
            server.run("stdio")
        finally:
            recorder.close()
            events.close()
    finally:
        if lock is not None:
            lock.release()
    return 0
