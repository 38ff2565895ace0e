"""What every card source shares: a card or a failure with its location, file limits, and validation.

Every item a source reads is either a valid Card with its location or a failure with its location and a
message a knowledge manager can act on; one bad card never stops the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag.domain.cards import Card

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
GURU_SUFFIXES = (".guru.json", ".guru.jsonl")  # whole name endings: `x.guru.json` is Guru, `x.json` nothing
SKIPPED_NAMES = frozenset({"readme.md", "readme.markdown"})  # a folder may document itself
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Location:
    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True, slots=True)
class ParsedCard:
    card: Card
    location: Location


@dataclass(frozen=True, slots=True)
class CardFailure:
    location: Location
    message: str
    card_id: str | None = None

    def __str__(self) -> str:
        who = f" (card {self.card_id})" if self.card_id else ""
        return f"{self.location}{who}: {self.message}"


SourceItem = ParsedCard | CardFailure


def is_guru_export(path: Path) -> bool:
    return path.name.lower().endswith(GURU_SUFFIXES)


def read_text(path: Path) -> str | CardFailure:
    """A whole source file as text, or a failure: unreadable, over MAX_FILE_BYTES, or not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return CardFailure(Location(str(path)), f"cannot read the file: {exc.strerror}")
    if len(data) > MAX_FILE_BYTES:
        return CardFailure(Location(str(path)), f"file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return CardFailure(
            Location(str(path), line), f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        )


def _describe(errors: ValidationError) -> list[tuple[str, str]]:
    """(top-level key, message) for each validation error, in words a person understands."""
    described = []
    for error in errors.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        key = loc[0] if loc else ""
        where = ".".join(loc) if loc else "card"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling)"
        elif error["type"] == "missing":
            message = "is required"
        elif error["type"] == "enum":
            message = f"unknown value {error.get('input')!r}; expected verified or unverified"
        described.append((key, f"{where}: {message}" if loc else message))
    return described


def validate(raw: Mapping[str, Any]) -> Card | list[tuple[str, str]]:
    """Card input -> a Card, or (top-level key, message) for each problem ("" for card-level ones)."""
    try:
        return Card.model_validate(dict(raw))
    except ValidationError as exc:
        return _describe(exc)
