"""The polarity of a sentence ("can" / "cannot"), in the languages where Verity has learned to read it.

The negation cues of 112 languages were learned from Tatoeba's translations into English
(`python -m evals.negation_cues`, rag/data/negation_cues.json), not written by hand; each language's
detection was measured on held-out sentences. A text's language is identified first (cues are per
language: Portuguese "no" is "in the"). Where the language is unknown, or its cues found fewer than half
of the held-out negated sentences (Turkish and Japanese negate inside the verb, Vietnamese "không" is also
a question word), `negations` returns None: the guard then says it could not read the polarity, instead of
passing the sentence as if it had.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rag.answering.guard.names import words

USABLE_RECALL = 0.5


@dataclass(frozen=True, slots=True)
class Cues:
    words: frozenset[str]
    function_words: frozenset[str]  # in 1% of the language's sentences or more ("the", "und", "и")
    unspaced: bool  # read as character unigrams and bigrams (Chinese, Japanese, Thai, Khmer)
    recall: float


@cache
def cue_table() -> dict[str, Cues]:
    raw = json.loads(resources.files("rag").joinpath("data/negation_cues.json").read_text(encoding="utf-8"))
    return {
        lang: Cues(
            frozenset(row["cues"]), frozenset(row["function_words"]), bool(row["unspaced"]), float(row["recall"])
        )
        for lang, row in raw["languages"].items()
    }


def units(text: str, unspaced: bool) -> set[str]:
    """Pure: what a sentence is read as: its words (casefolded), or, in scripts written without spaces, its
    character unigrams and bigrams. The learner (evals/negation_cues.py) and the guard read alike."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    if unspaced:
        letters = [ch for ch in folded if ch.isalpha()]
        return set(letters) | {a + b for a, b in itertools.pairwise(letters)}
    found = set(words(folded))
    if any(w.endswith("n't") for w in found):
        found.add("n't")
    return found


class Polarity:
    """Reads negation in a text of any language the table covers well enough."""

    def __init__(self, identify: Callable[[str], str | None] | None) -> None:
        self._identify = identify
        self._table = cue_table()

    def language(self, text: str) -> str | None:
        return self._identify(text) if self._identify is not None else None

    def function_words(self, language: str | None) -> frozenset[str]:
        cues = self._table.get(language) if language else None
        return cues.function_words if cues is not None else frozenset()

    def negations(self, text: str, language: str | None = None) -> int | None:
        """How many negation cues the text holds; None when its polarity cannot be read."""
        lang = language or self.language(text)
        cues = self._table.get(lang) if lang else None
        if cues is None or cues.recall < USABLE_RECALL:
            return None
        found = units(text, cues.unspaced)
        exact = len(found & cues.words)
        # an inflected cue ("kein" -> "keine", "keinen"): cues of 4+ letters, at most 2 letters more
        inflected = sum(
            1
            for w in found - cues.words
            if any(len(c) >= 4 and w.startswith(c) and len(w) - len(c) <= 2 for c in cues.words)
        )
        return exact + inflected
