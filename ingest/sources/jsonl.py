"""JSONL cards: one JSON object per line, read line by line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ingest.sources.common import MAX_FILE_BYTES, CardFailure, Location, ParsedCard, SourceItem, validate
from rag.domain.cards import Card


def read_jsonl(path: Path, default_collection: str | None = None) -> Iterator[SourceItem]:
    """Streams the file line by line: memory stays bounded however many cards it holds."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield CardFailure(Location(str(path)), f"cannot read the file: {exc.strerror}")
        return
    with handle:
        for number, raw_line in enumerate(handle, start=1):
            location = Location(str(path), number)
            if len(raw_line) > MAX_FILE_BYTES:
                yield CardFailure(
                    location, f"line is {len(raw_line):,} bytes; the limit for one card is {MAX_FILE_BYTES:,}"
                )
                continue
            try:
                line = raw_line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield CardFailure(
                    location, f"not UTF-8 text (byte 0x{raw_line[exc.start]:02x} at column {exc.start + 1})"
                )
                continue
            item = parse_jsonl_line(line, location, default_collection)
            if item is not None:
                yield item


def parse_jsonl(text: str, path: str, default_collection: str | None = None) -> Iterator[SourceItem]:
    """Pure: JSONL text -> one item per non-blank line, failures carrying the line number."""
    for number, line in enumerate(text.splitlines(), start=1):
        item = parse_jsonl_line(line, Location(path, number), default_collection)
        if item is not None:
            yield item


def parse_jsonl_line(line: str, location: Location, default_collection: str | None = None) -> SourceItem | None:
    """Pure: one JSONL line -> a card, a failure, or None for a blank line."""
    if not line.strip():
        return None
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return CardFailure(location, f"invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(raw, dict):
        return CardFailure(location, "each line must be a JSON object")
    if default_collection and "collection" not in raw:
        raw["collection"] = default_collection
    card = validate(raw)
    if isinstance(card, Card):
        return ParsedCard(card, location)
    card_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    return CardFailure(location, "; ".join(m for _, m in card), card_id)
