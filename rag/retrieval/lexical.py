"""Lexical retrieval (BM25 via bm25s) for exact terms the dense model can miss: "E-4012", "OH-200-PWR".

Tokenisation suits many languages without language-specific rules: NFKC, case folding, Unicode word
runs; a token joined by - _ . / ("e-4012", "oh-200-pwr") is kept whole *and* split into its parts.
No stemming and no stop words: BM25's idf already discounts common words in every language.

The index holds record ids and texts only. Visibility and trust are never decided here: the ids it
returns are fetched again from the store within the asker's scope.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence

import bm25s
import numpy as np

from rag.ports import LexicalHit

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import

_TOKEN = re.compile(r"[^\W_]+(?:[-_./][^\W_]+)*")
_JOINERS = re.compile(r"[-_./]")


def tokenize(text: str) -> list[str]:
    # Turkish İ case-folds to i + U+0307 (combining dot above); the dot would split the word
    folded = unicodedata.normalize("NFKC", text).casefold().replace("i\u0307", "i")
    tokens: list[str] = []
    for match in _TOKEN.finditer(folded):
        token = match.group(0)
        tokens.append(token)
        if _JOINERS.search(token):
            tokens.extend(part for part in _JOINERS.split(token) if part)
    return tokens


def identifiers(text: str) -> list[str]:
    """The question's exact terms: whole tokens that mix digits with letters or joiners ("e-4012",
    "oh-200-pwr", "sku123", "3-d"). Plain numbers ("30", "2026") and plain words are not identifiers.
    They read the same in every language, so matching them never costs cross-language recall."""
    return list(
        dict.fromkeys(
            token
            for token in tokenize(text)
            if len(token) >= 3
            and any(ch.isdigit() for ch in token)
            and (any(ch.isalpha() for ch in token) or _JOINERS.search(token))
        )
    )


class LexicalIndex:
    """An immutable BM25 index over (record id, text) pairs; rebuilt, never mutated (the `LexicalSearch` port)."""

    def __init__(self, record_ids: Sequence[str], texts: Sequence[str]) -> None:
        self._ids = list(record_ids)
        self._bm25: bm25s.BM25 | None = None
        if self._ids:
            self._bm25 = bm25s.BM25()
            self._bm25.index([tokenize(t) or ["\u2205"] for t in texts], show_progress=False)
            self._vocabulary = set(self._bm25.vocab_dict)

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, query: str, k: int) -> list[LexicalHit]:
        if self._bm25 is None:
            return []
        tokens = [t for t in tokenize(query) if t in self._vocabulary]
        if not tokens:
            return []
        documents, scores = self._bm25.retrieve([tokens], k=min(k, len(self._ids)), show_progress=False)
        return [
            LexicalHit(self._ids[int(doc)], float(score))
            for doc, score in zip(np.asarray(documents)[0], np.asarray(scores)[0], strict=True)
            if score > 0
        ]

    def holders(self, token: str, k: int) -> list[str]:
        """Up to k record ids whose text holds `token` as a whole token (a tokenised word, not a substring)."""
        if self._bm25 is None or token not in self._vocabulary:
            return []
        documents, scores = self._bm25.retrieve([[token]], k=min(k, len(self._ids)), show_progress=False)
        return [
            self._ids[int(doc)]
            for doc, score in zip(np.asarray(documents)[0], np.asarray(scores)[0], strict=True)
            if score > 0
        ]
