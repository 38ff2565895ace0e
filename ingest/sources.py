"""Card sources: a folder of Markdown files with YAML front matter, and JSONL (one card per line).

Every item read is either a valid Card with its location or a failure with its location and a message
a knowledge manager can act on; one bad card never stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rag.cards import Card
from rag.errors import ErrorCode, VerityError

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
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


def read_source(path: Path) -> Iterator[SourceItem]:
    """Cards of a Markdown, JSONL or Guru export file, or a folder of them (recursively, in name order)."""
    if not path.exists():
        raise VerityError(ErrorCode.SOURCE_NOT_FOUND, f"no such file or folder: {path}")
    if path.is_dir():
        yield from _read_folder(path)
    elif path.name.lower().endswith((".guru.json", ".guru.jsonl")):
        from ingest.guru import read_guru  # here, not at the top: ingest.guru imports this module

        yield from read_guru(path)
    elif path.suffix.lower() in JSONL_SUFFIXES:
        yield from read_jsonl(path)
    elif path.suffix.lower() in MARKDOWN_SUFFIXES:
        yield read_markdown(path)
    else:
        raise VerityError(ErrorCode.SOURCE_NOT_FOUND, f"{path}: expected a folder, a .md, .jsonl or .guru.json file")


def _read_folder(root: Path) -> Iterator[SourceItem]:
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or file.name.lower() in SKIPPED_NAMES:
            continue
        folder_collection = "/".join(relative.parts[:-1]) or None
        suffix = file.suffix.lower()
        if file.name.lower().endswith((".guru.json", ".guru.jsonl")):
            from ingest.guru import read_guru  # here, not at the top: ingest.guru imports this module

            yield from read_guru(file)  # a Guru card names its own collection
        elif suffix in JSONL_SUFFIXES:
            yield from read_jsonl(file, default_collection=folder_collection)
        elif suffix in MARKDOWN_SUFFIXES:
            yield read_markdown(file, default_collection=folder_collection)


def _read_text(path: Path) -> str | CardFailure:
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


def _validate(raw: Mapping[str, Any]) -> Card | list[tuple[str, str]]:
    try:
        return Card.model_validate(dict(raw))
    except ValidationError as exc:
        return _describe(exc)


def read_markdown(path: Path, default_collection: str | None = None) -> SourceItem:
    text = _read_text(path)
    if isinstance(text, CardFailure):
        return text
    return parse_markdown(text, str(path), default_collection)


def parse_markdown(text: str, path: str, default_collection: str | None = None) -> SourceItem:
    """Pure: one Markdown card (YAML front matter, then the body) -> a Card or a failure with its line."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return CardFailure(Location(path, 1), "no YAML front matter: the file must start with a '---' line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        return CardFailure(Location(path, 1), "the front matter is not closed by a '---' line")
    front = "\n".join(lines[1:end])
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        return CardFailure(Location(path, line), f"bad YAML in front matter: {problem}")
    if not isinstance(meta, dict):
        return CardFailure(Location(path, 2), "the front matter must be a mapping of keys to values")
    card_id = meta.get("id") if isinstance(meta.get("id"), str) else None
    if "body" in meta:
        return CardFailure(Location(path, 2), "the body is the Markdown after the front matter, not a key", card_id)
    raw = dict(meta)
    raw["body"] = "\n".join(lines[end + 1 :]).strip("\n")
    if default_collection and "collection" not in raw:
        raw["collection"] = default_collection
    card = _validate(raw)
    if isinstance(card, Card):
        return ParsedCard(card, Location(path))
    problems = card
    key_lines = {line.split(":", 1)[0].strip(): i + 2 for i, line in enumerate(lines[1:end]) if ":" in line}
    first_key = problems[0][0]
    line_no = key_lines.get(first_key, end + 2 if first_key == "body" else 1)
    return CardFailure(Location(path, line_no), "; ".join(m for _, m in problems), card_id)


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
    card = _validate(raw)
    if isinstance(card, Card):
        return ParsedCard(card, location)
    card_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    return CardFailure(location, "; ".join(m for _, m in card), card_id)
