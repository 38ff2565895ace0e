"""Card sources: a folder of Markdown files with YAML front matter, JSONL (one card per line), and Guru exports.

Every item read is either a valid Card with its location or a failure with its location and a message
a knowledge manager can act on; one bad card never stops the others. `common` holds what the formats
share; each format is a module of its own, and `read_source` picks one by file name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.sources.common import (
    GURU_SUFFIXES,
    JSONL_SUFFIXES,
    MARKDOWN_SUFFIXES,
    MAX_FILE_BYTES,
    SKIPPED_NAMES,
    CardFailure,
    Location,
    ParsedCard,
    SourceItem,
    is_guru_export,
)
from ingest.sources.guru import html_to_markdown, parse_guru, read_guru
from ingest.sources.jsonl import parse_jsonl, parse_jsonl_line, read_jsonl
from ingest.sources.markdown import parse_markdown, read_markdown
from rag.domain.errors import ErrorCode, VerityError

__all__ = [
    "GURU_SUFFIXES",
    "JSONL_SUFFIXES",
    "MARKDOWN_SUFFIXES",
    "MAX_FILE_BYTES",
    "SKIPPED_NAMES",
    "CardFailure",
    "Location",
    "ParsedCard",
    "SourceItem",
    "html_to_markdown",
    "parse_guru",
    "parse_jsonl",
    "parse_jsonl_line",
    "parse_markdown",
    "read_guru",
    "read_jsonl",
    "read_markdown",
    "read_source",
]


def read_source(path: Path) -> Iterator[SourceItem]:
    """Cards of a Markdown, JSONL or Guru export file, or a folder of them (recursively, in name order)."""
    if not path.exists():
        raise VerityError(ErrorCode.SOURCE_NOT_FOUND, f"no such file or folder: {path}")
    if path.is_dir():
        yield from _read_folder(path)
    elif is_guru_export(path):
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
        if is_guru_export(file):
            yield from read_guru(file)  # a Guru card names its own collection
        elif suffix in JSONL_SUFFIXES:
            yield from read_jsonl(file, default_collection=folder_collection)
        elif suffix in MARKDOWN_SUFFIXES:
            yield read_markdown(file, default_collection=folder_collection)
