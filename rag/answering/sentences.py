"""Sentence splitting of Markdown card bodies, for many languages, keeping each sentence verbatim.

A sentence is a stretch of one paragraph (or one list item) that ends with . ! ? … and is followed by
white space and a capital letter, a digit or an opening quote. Headings, fences and table rules are
not sentences. The text of each sentence is copied from the body; only line breaks inside a paragraph
are folded to one space.
"""

from __future__ import annotations

import re

_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BOUNDARY = re.compile(r"(?<=[.!?…。！？])[\"'”’»)\]]*\s+(?=[\"'“«(\[]?[0-9A-ZÀ-ÝĀ-ỸА-ЯІЇЄҐ])")
# Common abbreviations (several languages) that end in a period but do not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "approx",
        "no",
        "nr",
        "st",
        "inc",
        "ltd",
        "co",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "ex",
        "örn",
        "vb",
        "vs.",
        "bkz",
        "sr",
        "sra",
        "dra",
        "p.ex",
        "tel",
        "т.п",
        "т.д",
        "напр",
        "пор",
    ]
)
MIN_SENTENCE_CHARS = 12


def _paragraphs(body: str) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    in_fence = False

    def flush() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for raw in body.splitlines():
        if _FENCE.match(raw):
            flush()
            in_fence = not in_fence
            continue
        line = raw.strip()
        if in_fence or not line or _HEADING.match(raw) or _TABLE_RULE.match(raw):
            flush()
            continue
        if _LIST_MARKER.match(raw) or line.startswith("|"):
            flush()
            current.append(_LIST_MARKER.sub("", raw).strip().strip("|").strip())
            flush()
            continue
        current.append(line)
    flush()
    return paragraphs


def _ends_with_abbreviation(text: str) -> bool:
    last = text.rsplit(None, 1)[-1].rstrip(".").lower()
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def split_sentences(body: str, min_chars: int = MIN_SENTENCE_CHARS) -> list[str]:
    sentences: list[str] = []
    for paragraph in _paragraphs(body):
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            piece = paragraph[start : match.start()].strip()
            if piece and _ends_with_abbreviation(piece):
                continue
            if piece:
                sentences.append(piece)
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return [s for s in sentences if len(s) >= min_chars]


def normalise_space(text: str) -> str:
    return " ".join(text.split())
