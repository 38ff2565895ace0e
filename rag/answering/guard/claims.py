"""What a sentence states, read without any model (pure): an answer's sentences with their citation markers,
the hard facts a paraphrase or a translation must keep exactly (numbers by value, identifiers), a sentence's
clauses, and the windows of evidence a sentence is compared with."""

from __future__ import annotations

import itertools
import re
import unicodedata

from rag.answering.sentences import split_sentences
from rag.retrieval.lexical import identifiers

_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
# a number, also with a short suffix of letters ("1970s", "18th", "1970er", "1970-х": the number is 1970)
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?=[^\W\d_]{0,3}(?!\w))")
_SPACED_THOUSANDS = re.compile(r"(?<=\d)[ \u00a0\u202f](?=\d{3}(?!\d))")  # "500 000", "22 392"
_NOT_AN_IDENTIFIER = re.compile(r"\d+(?:[.,]\d+)*-?[^\W\d_]{1,3}|[\d.,\-–/]+")  # 1970s, 18th; 3-0, 2000/2005

ANSWER_WORDS = frozenset(
    {"yes", "no", "sim", "não", "nao", "có", "không", "так", "ні", "evet", "hayır", "ja", "nein", "sí", "да", "нет"}
)
_ANSWERS = "|".join(sorted(ANSWER_WORDS, key=len, reverse=True))
_ANSWER_WORD = re.compile(rf"(?i)\s*(?:{_ANSWERS})\s*[.!,;:]?\s*")  # "No." alone
LEADING_ANSWER = re.compile(rf"(?i)^\s*(?:{_ANSWERS})\s*[.!,;:]\s*")  # "No. ..." opening a claim


def split_claims(answer: str) -> list[tuple[str, str, tuple[int, ...]]]:
    """Pure: answer -> (sentence, claim without markers, markers) per sentence. A marker that opens the
    next sentence ("... done. [2] Next ...") belongs to the sentence before it. Only these sentences are
    checked, so a caller shows only sentences that passed, never the raw answer."""
    raw = split_sentences(answer, min_chars=1)  # a short claim ("Yes.") is checked like any other
    merged: list[str] = []
    for part in raw:
        leading = re.match(r"^(?:\s*\[\d{1,3}\])+", part)
        if leading and merged:
            merged[-1] = f"{merged[-1]} {leading.group(0).strip()}"
            part = part[leading.end() :].strip()
        if part:
            merged.append(part)
    joined: list[str] = []
    for sentence in merged:  # "No." / "Sim." alone states nothing to check: it goes with the next sentence
        if joined and _ANSWER_WORD.fullmatch(_MARKER.sub("", joined[-1]).strip()):
            joined[-1] = f"{joined[-1]} {sentence}"
        else:
            joined.append(sentence)
    out = []
    for sentence in joined:
        markers = tuple(int(m) for m in _MARKER.findall(sentence))
        claim = _MARKER.sub("", sentence).strip()
        if claim:
            out.append((sentence, claim, markers))
    return out


def numbers(text: str) -> set[str]:
    """Pure: the numbers a text states, by value ("1,5" == "1.5"; "1,000" == "1000")."""
    found = set()
    for raw in _NUMBER.findall(_SPACED_THOUSANDS.sub("", unicodedata.normalize("NFKC", text))):
        if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):  # thousands separators
            found.add(re.sub(r"[.,]", "", raw))
        else:
            value = raw.replace(",", ".")
            found.add(value.rstrip("0").rstrip(".") if "." in value else value.lstrip("0") or "0")
    return found


def hard_facts(text: str) -> set[str]:
    """Pure: numbers and identifiers, the facts a paraphrase or a translation must keep exactly."""
    return numbers(text) | {i for i in identifiers(text) if not _NOT_AN_IDENTIFIER.fullmatch(i)}


_CLAUSE_BREAK = re.compile(r"\s*[,;:—–]\s+|\s+[(\[]|[)\]]\s*")
MIN_CLAUSE_WORDS = 4


def clauses(claim: str) -> list[str]:
    """Pure: the clauses of a sentence, where it has several of MIN_CLAUSE_WORDS words or more (split at
    commas, semicolons, colons, dashes and brackets: the punctuation every script here uses)."""
    parts = [p.strip() for p in _CLAUSE_BREAK.split(claim) if p and len(p.split()) >= MIN_CLAUSE_WORDS]
    return parts if len(parts) >= 2 else []


def windows(text: str) -> list[str]:
    """Pure: what a sentence of an answer is compared with: each sentence of the evidence, each pair of
    adjacent ones (a translation may join two), and each clause of a sentence that has several (a clause of
    the answer is compared with clauses: fragments embed unlike whole sentences)."""
    sentences = split_sentences(text) or [text]
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(sentences)]
    parts = [c for s in sentences for c in clauses(s)]
    return list(dict.fromkeys([*sentences, *pairs, *parts]))
