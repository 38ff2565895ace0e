"""A cheap count of the cards a source holds, for a progress bar's total and ETA (never loads the cards)."""

from __future__ import annotations

from pathlib import Path

from ingest.sources import JSONL_SUFFIXES, MARKDOWN_SUFFIXES, SKIPPED_NAMES


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def estimate_cards(path: Path) -> int | None:
    """Markdown files count one card each, JSONL files one per non-blank line; None when unknown."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    total = 0
    for file in files:
        name = file.name.lower()
        if name in SKIPPED_NAMES or any(part.startswith(".") for part in file.relative_to(path.parent).parts):
            continue
        if name.endswith(".json"):
            return None  # a JSON array: counting it means parsing it
        if file.suffix.lower() in JSONL_SUFFIXES:
            total += _lines(file)
        elif file.suffix.lower() in MARKDOWN_SUFFIXES:
            total += 1
    return total
