"""Names across scripts: "Денвер Бронкос" and "Denver Broncos" are one name to the citation guard.

A name a sentence states (a person, a team, a product, a city) reads nearly the same in every language
that writes it in an alphabet, once it is transliterated: `fold` writes Cyrillic and Greek in Latin
letters, removes accents and case; `same_name` then compares two words by their letters, with room for
inflection ("Broncos" / "Бронкоса") and transliteration variants (k / c, ks / x). Scripts without a table
here (Arabic, Hebrew, CJK, Indic, ...) are compared as written: a name in them is found only where the
evidence writes it the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "e", "є": "ye", "ж": "zh",
    "з": "z", "и": "i", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "ў": "u", "ђ": "dj", "ј": "j",
    "љ": "lj", "њ": "nj", "ћ": "c", "џ": "dz", "ѓ": "g", "ќ": "k", "ѕ": "dz",
}  # fmt: skip
_GREEK = {
    "α": "a", "β": "b", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}  # fmt: skip
_TABLE = {**_CYRILLIC, **_GREEK}
# spellings that transliteration turns into each other: compared after this folding
_VARIANTS = (("ks", "x"), ("kh", "h"), ("ck", "k"), ("c", "k"), ("q", "k"), ("ph", "f"), ("w", "v"), ("y", "i"),
             ("j", "i"), ("z", "s"), ("th", "t"), ("dzh", "j"))  # fmt: skip
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")


def fold(word: str) -> str:
    """Pure: a word in lower-case Latin letters without accents, where its script has a table here."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(_TABLE.get(ch, ch) for ch in plain)


def _skeleton(word: str) -> str:
    folded = fold(word)
    for a, b in _VARIANTS:
        folded = folded.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", folded)  # doubled letters: "Bronkoss" / "Broncos"


def _trigrams(text: str) -> set[str]:
    padded = f"^{text}$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def same_name(a: str, b: str) -> bool:
    """Pure: two words name the same thing, across scripts and inflections (a shared stem of 4+ letters
    covering most of the shorter word, or close letter trigrams)."""
    x, y = _skeleton(a), _skeleton(b)
    if not x or not y:
        return False
    if x == y:
        return True
    short, long_ = sorted((x, y), key=len)
    if len(short) < 3:
        return False
    stem = 0
    for c1, c2 in zip(short, long_, strict=False):
        if c1 != c2:
            break
        stem += 1
    if stem >= 4 and stem >= len(short) - 2:
        return True
    ta, tb = _trigrams(x), _trigrams(y)
    return len(short) >= 5 and 2 * len(ta & tb) / (len(ta) + len(tb)) >= 0.6


def words(text: str) -> list[str]:
    """Pure: the words of a text, as written (hyphenated words kept whole)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text))


def name_words(text: str) -> list[str]:
    """Pure: words written with a capital letter that do not open the text or a sentence, or that mix
    letters and digits: the candidates for names. (German capitalises every noun: the guard treats a
    capitalised word as a name only when it is written the same way in its evidence or not at all.)"""
    found = []
    for match in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        word = match.group(0)
        before = text[: match.start()].rstrip()
        opens = not before or before[-1] in ".!?:;«“\"'([" or before.endswith("]")
        if word[0].isupper() and not opens and len(word) >= 2:
            found.append(word)
    return found


def found_in(word: str, vocabulary: Iterable[str]) -> bool:
    """Pure: `word` names something `vocabulary` (words of the evidence) also names."""
    return any(same_name(word, other) for other in vocabulary)
