"""Build `rag/data/tatoeba-reference.tsv.gz`, the corpus language centroids are computed from:

    python -m evals.reference_corpus [--tatoeba ../shared/datasets/tatoeba] [--per-language 200]

For each of Tatoeba's 112 languages (LASER's test set, ISO 639-3 file names), the first `per-language`
sentences that are not questions, each with its English translation; and English itself, from the
English sides (the first three statements of each file, distinct, up to `per-language`). Questions are
left out: they are the off-topic test questions (tests/integration/test_offtopic.py). Tatoeba's sentences
are CC BY 2.0 FR (tatoeba.org); the attribution travels with the file (rag/data/ATTRIBUTION.md).

Line format: `code<TAB>sentence<TAB>english` (Verity's language code; the English column is empty for
English itself).
"""

from __future__ import annotations

import argparse
import gzip
import io
from pathlib import Path

from rag.retrieval.languages import ISO3_TO_CODE
from rag.retrieval.reference import CORPUS, data_path

QUESTION_MARKS = ("?", "？", "؟", ";")  # ";" is the Greek question mark


def default_tatoeba() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tatoeba"


def is_question(text: str) -> bool:
    return text.rstrip().endswith(QUESTION_MARKS)


def read_pairs(folder: Path, iso3: str) -> list[tuple[str, str]]:
    native = (folder / f"tatoeba.{iso3}-eng.{iso3}").read_text(encoding="utf-8").splitlines()
    english = (folder / f"tatoeba.{iso3}-eng.eng").read_text(encoding="utf-8").splitlines()
    return [(a.strip(), b.strip()) for a, b in zip(native, english, strict=True) if a.strip() and b.strip()]


def build(folder: Path, per_language: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    english: list[str] = []
    languages = sorted(p.name.split(".")[1].split("-")[0] for p in folder.glob("tatoeba.*-eng.eng"))
    if not languages:
        raise SystemExit(f"no Tatoeba files in {folder}")
    for iso3 in languages:
        pairs = [(a, b) for a, b in read_pairs(folder, iso3) if not is_question(b) and not is_question(a)]
        rows += [(ISO3_TO_CODE[iso3], a, b) for a, b in pairs[:per_language]]
        english += [b for _, b in pairs[:3]]
    rows += [("en", sentence, "") for sentence in list(dict.fromkeys(english))[:per_language]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.reference_corpus")
    parser.add_argument("--tatoeba", type=Path, default=default_tatoeba())
    parser.add_argument("--per-language", type=int, default=200)
    parser.add_argument("--out", type=Path, default=data_path(CORPUS))
    args = parser.parse_args()
    rows = build(args.tatoeba, args.per_language)
    # mtime=0: the same corpus gives the same bytes, so a rebuild shows no spurious diff
    with gzip.GzipFile(args.out, "wb", compresslevel=9, mtime=0) as raw, io.TextIOWrapper(raw, "utf-8") as out:
        for code, sentence, english in rows:
            out.write(f"{code}\t{sentence.replace(chr(9), ' ')}\t{english.replace(chr(9), ' ')}\n")
    print(f"{len(rows)} sentences in {len({r[0] for r in rows})} languages -> {args.out}")


if __name__ == "__main__":
    main()
