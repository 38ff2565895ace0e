"""Learn the words that negate a statement, in 112 languages, from Tatoeba's translations into English.

    python -m evals.negation_cues [--out rag/data/negation_cues.json]

The citation guard compares the polarity of a sentence and of its evidence ("can" / "cannot"). A word list
written by hand covers the languages its author knew and silently does nothing in the others; this one is
learned. Tatoeba (CC BY 2.0 FR, ../shared/datasets/tatoeba) gives 1,000 sentences per language with their
English translations. An English sentence is negated when it holds one of a few English negators (the only
words written here); a word of language L is a negation cue of L when, over the first 600 sentence pairs,
it occurs in at least MIN_COUNT sentences whose translation is negated and at least MIN_PRECISION of the
sentences holding it are. Scripts written without spaces (Chinese, Japanese, Thai, Khmer) are read as
character unigrams and bigrams. Questions are left out (a claim is a statement, and Vietnamese "không" also
closes a yes/no question). Word endings as candidates, for languages that negate inside the verb, were tried:
German got "~cht", as in "Nacht", at precision 0.63; they are not used.

Cues are per language (Portuguese "no" is "in the", Kazakh "не" is "what"): the guard identifies a text's
language first. The last 400 pairs of each language measure each language's detection (recall,
precision), kept in the table; below USABLE_RECALL the guard says it cannot read that language's
polarity rather than pass it silently. English's cues are the seed.

The same pass keeps each language's function words (in FUNCTION_WORD_SHARE of its sentences or more: "the",
"also", "der", "и"): the guard's word coverage of a sentence against evidence in the same language counts
only the other words.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from evals.decision_data import tatoeba_dir
from rag.answering.guard.polarity import units
from rag.retrieval.languages import ISO3_TO_CODE

ENGLISH_SEED = ("not", "no", "never", "nobody", "nothing", "none", "neither", "nor", "cannot", "nowhere", "n't")
ENGLISH_NEGATORS = re.compile(r"\b(" + "|".join(ENGLISH_SEED[:-1]) + r")\b|n't\b", re.IGNORECASE)
USABLE_RECALL = 0.5
FUNCTION_WORD_SHARE = 0.01  # a word in 1% of a language's sentences or more: a function word
FIT_LINES = 600
MIN_COUNT = 5
MIN_PRECISION = 0.85
UNSPACED = frozenset({"cmn", "jpn", "tha", "khm", "wuu", "yue"})
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _pairs(folder: Path, iso3: str) -> list[tuple[str, bool]]:
    src = (folder / f"tatoeba.{iso3}-eng.{iso3}").read_text(encoding="utf-8").splitlines()
    eng = (folder / f"tatoeba.{iso3}-eng.eng").read_text(encoding="utf-8").splitlines()
    # statements only: a claim is a statement, and questions use negators as particles (Vietnamese "có ... không?")
    return [
        (s, bool(ENGLISH_NEGATORS.search(e)))
        for s, e in zip(src, eng, strict=True)
        if not s.rstrip().endswith(("?", "？", "؟")) and not e.rstrip().endswith("?")
    ]


def _stats(pairs: Iterable[tuple[str, bool]], unspaced: bool) -> tuple[Counter[str], Counter[str]]:
    seen: Counter[str] = Counter()
    negated: Counter[str] = Counter()
    for text, neg in pairs:
        for u in units(text, unspaced):
            seen[u] += 1
            negated[u] += neg
    return seen, negated


def _greedy_cues(pairs: list[tuple[str, bool]], unspaced: bool) -> list[str]:
    """Cues one at a time, most negated sentences first, each kept only if it finds MIN_COUNT negated
    sentences the cues before it missed, at MIN_PRECISION there ("oder" rides along with "nicht": it finds
    nothing "nicht" did not, and is not kept)."""
    left = [(units(t, unspaced), neg) for t, neg in pairs]
    cues: list[str] = []
    while True:
        seen: Counter[str] = Counter()
        negated: Counter[str] = Counter()
        for words, neg in left:
            for u in words:
                seen[u] += 1
                negated[u] += neg
        fit = [u for u, n in negated.items() if n >= MIN_COUNT and n / seen[u] >= MIN_PRECISION and len(u) <= 12]
        if not fit:
            return sorted(cues)
        best = max(fit, key=lambda u: (negated[u], u))
        cues.append(best)
        left = [(words, neg) for words, neg in left if best not in words]


def _english(folder: Path) -> list[str]:
    """English function words: the English side of the first FIT_LINES pairs of every language."""
    seen: Counter[str] = Counter()
    files = sorted(folder.glob("tatoeba.*-eng.eng"))
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines()[:FIT_LINES]:
            seen.update(units(line, False))
    total = FIT_LINES * len(files)
    return sorted(u for u, n in seen.items() if n >= FUNCTION_WORD_SHARE * total and u not in ENGLISH_SEED)


def learn(folder: Path) -> dict[str, object]:
    iso3s = sorted(p.name.split(".")[1].split("-")[0] for p in folder.glob("tatoeba.*-eng.eng"))
    languages: dict[str, dict[str, object]] = {}
    for iso3 in iso3s:
        pairs = _pairs(folder, iso3)
        unspaced = iso3 in UNSPACED
        cues = _greedy_cues(pairs[:FIT_LINES], unspaced)
        held = pairs[FIT_LINES:]
        hits = [(bool(units(t, unspaced) & set(cues)), neg) for t, neg in held]
        tp = sum(1 for h, n in hits if h and n)
        seen, _ = _stats(pairs[:FIT_LINES], unspaced)
        common = sorted(u for u, n in seen.items() if n >= FUNCTION_WORD_SHARE * FIT_LINES and not unspaced)
        languages[ISO3_TO_CODE.get(iso3, iso3)] = {
            "cues": cues,
            "function_words": [u for u in common if u not in cues],
            "unspaced": unspaced,
            "recall": round(tp / max(1, sum(n for _, n in hits)), 3),
            "precision": round(tp / max(1, sum(h for h, _ in hits)), 3),
        }
    english = _english(folder)
    languages["en"] = {"cues": sorted(ENGLISH_SEED), "function_words": english, "unspaced": False, "recall": 1.0,
                       "precision": 1.0}  # fmt: skip
    return {
        "source": "Tatoeba (CC BY 2.0 FR), via LASER's test set; learned by evals/negation_cues.py",
        "min_count": MIN_COUNT,
        "min_precision": MIN_PRECISION,
        "languages": languages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.negation_cues")
    parser.add_argument("--out", type=Path, default=Path("rag/data/negation_cues.json"))
    args = parser.parse_args()
    table = learn(tatoeba_dir())
    args.out.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    languages = table["languages"]
    assert isinstance(languages, dict)
    recalls = sorted(float(row["recall"]) for row in languages.values())
    weak = sorted(lang for lang, row in languages.items() if float(row["recall"]) < USABLE_RECALL)
    print(f"{len(languages)} languages; held-out recall median {recalls[len(recalls) // 2]:.2f}")
    print(f"below {USABLE_RECALL} (the guard says it cannot read their polarity): {' '.join(weak)}")


if __name__ == "__main__":
    main()
