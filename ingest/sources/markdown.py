"""Markdown cards: one file per card, YAML front matter, then the body."""

from __future__ import annotations

from pathlib import Path

import yaml

from ingest.sources.common import CardFailure, Location, ParsedCard, SourceItem, read_text, validate
from rag.domain.cards import Card


def read_markdown(path: Path, default_collection: str | None = None) -> SourceItem:
    text = read_text(path)
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
    card = validate(raw)
    if isinstance(card, Card):
        return ParsedCard(card, Location(path))
    problems = card
    key_lines = {line.split(":", 1)[0].strip(): i + 2 for i, line in enumerate(lines[1:end]) if ":" in line}
    first_key = problems[0][0]
    line_no = key_lines.get(first_key, end + 2 if first_key == "body" else 1)
    return CardFailure(Location(path, line_no), "; ".join(m for _, m in problems), card_id)
