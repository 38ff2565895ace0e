"""The data the answer-or-refuse decision is fitted and judged on, none of it written for the sample KB alone.

- **XQuAD three-kind mix** (CC BY-SA 4.0, ../shared/datasets/xquad): the paragraphs of half the articles
  (even or odd: the *split*) become verified cards, every third paragraph of those articles held back.
  Every question of every language is then one of three kinds: `answerable` (its paragraph is a card),
  `near` (its paragraph is held back, its article's other paragraphs are cards: same topic, same names),
  `absent` (its article is not in the KB at all).
- **Golden set** (evals/datasets/golden.jsonl, the sample KB's own questions), split in stratified thirds:
  the first third (`fit`) may be fitted on; the other two (`held_out`) never are, and CI gates on them.
- **Off-topic Tatoeba questions** (CC BY 2.0 FR, ../shared/datasets/tatoeba): everyday questions in 112
  languages that no support KB answers. Those of `TATOEBA_FIT_LANGUAGES` may be fitted on; the off-topic
  tests use the others.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from evals.golden import GoldenQuestion
from rag.domain.cards import Card
from rag.retrieval.languages import ISO3_TO_CODE

Kind = Literal["answerable", "near", "absent", "offtopic", "answer", "no_evidence", "only_unverified", "only_expired"]
XQUAD_LANGUAGES = ("en", "de", "es", "ru")
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
# Tatoeba questions that may be fitted on; the off-topic tests ask those of every other language.
TATOEBA_FIT_LANGUAGES = ("de", "fr", "it", "nl", "pl", "ja", "ar", "hi", "id", "sv", "cs", "ko")
TATOEBA_TEST_LANGUAGES = ("en", "tr", "vi", "pt", "uk", "es", "ru", "zh", "el", "fi", "he", "hu")


def shared_datasets() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "datasets"


def xquad_dir() -> Path:
    """The full XQuAD: $VERITY_XQUAD_DIR, else ../shared/datasets/xquad beside the repository."""
    configured = os.environ.get("VERITY_XQUAD_DIR")
    return Path(configured) if configured else shared_datasets() / "xquad"


def tatoeba_dir() -> Path:
    configured = os.environ.get("VERITY_TATOEBA_DIR")
    return Path(configured) if configured else shared_datasets() / "tatoeba"


@dataclass(frozen=True, slots=True)
class MixQuestion:
    id: str
    text: str
    language: str
    kind: Kind
    gold: tuple[str, ...]  # the card(s) that answer it (answerable); the candidates to name (only_*)
    source: str
    groups: tuple[str, ...] = ()
    as_of: datetime = NOW
    cross_language: bool = False

    @property
    def should_answer(self) -> bool:
        return self.kind in ("answerable", "answer")


@dataclass(frozen=True, slots=True)
class Paragraph:
    index: int
    article: int
    position: int  # within its article
    context: str
    questions: tuple[str, ...]


def load_xquad(language: str, folder: Path | None = None) -> list[Paragraph]:
    path = (folder or xquad_dir()) / f"xquad.{language}.json"
    if not path.is_file():
        raise FileNotFoundError(f"XQuAD file not found: {path} (set VERITY_XQUAD_DIR to the dataset's folder)")
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: list[Paragraph] = []
    for article_no, article in enumerate(data["data"]):
        for position, paragraph in enumerate(article["paragraphs"]):
            questions = tuple(qa["question"] for qa in paragraph["qas"])
            paragraphs.append(Paragraph(len(paragraphs), article_no, position, paragraph["context"], questions))
    return paragraphs


def paragraph_card(p: Paragraph, language: str | None) -> Card:
    """A paragraph as a verified card; its title is its own first words (no English article title leaks
    into other languages). `language` None: a card without the optional field."""
    words = re.split(r"\s+", p.context.strip())
    fields: dict[str, object] = {
        "id": f"p{p.index:03d}",
        "title": " ".join(words[:8])[:120],
        "body": p.context,
        "state": "verified",
        "verified_at": "2026-11-01T00:00:00Z",
        "verifier": "xquad@verity.example",
    }
    if language is not None:
        fields["language"] = language
    return Card.model_validate(fields)


def kind_of(p: Paragraph, split: int) -> Literal["answerable", "near", "absent"]:
    if p.article % 2 != split:
        return "absent"
    return "near" if p.position % 3 == 2 else "answerable"


def xquad_cards(paragraphs: Sequence[Paragraph], language: str, split: int, with_language: bool = True) -> list[Card]:
    """The KB of one split: the paragraphs of the split's articles, but every third of each."""
    return [
        paragraph_card(p, language if with_language else None) for p in paragraphs if kind_of(p, split) == "answerable"
    ]


def xquad_questions(
    paragraphs: Sequence[Paragraph], language: str, split: int, card_language: str
) -> list[MixQuestion]:
    return [
        MixQuestion(
            id=f"xquad-{language}-{p.index:03d}-{n}",
            text=text,
            language=language,
            kind=kind_of(p, split),
            gold=(f"p{p.index:03d}",) if kind_of(p, split) == "answerable" else (),
            source="xquad",
            cross_language=language != card_language,
        )
        for p in paragraphs
        for n, text in enumerate(p.questions)
    ]


def golden_split(questions: Sequence[GoldenQuestion]) -> tuple[list[GoldenQuestion], list[GoldenQuestion]]:
    """(fit, held_out): within each expected outcome, in id order, the first of every three questions may be
    fitted on, the other two are held out."""
    strata: dict[str, list[GoldenQuestion]] = defaultdict(list)
    for q in sorted(questions, key=lambda q: q.id):
        strata[q.expected_outcome].append(q)
    fit = {q.id for group in strata.values() for i, q in enumerate(group) if i % 3 == 0}
    return [q for q in questions if q.id in fit], [q for q in questions if q.id not in fit]


def golden_mix(questions: Sequence[GoldenQuestion]) -> list[MixQuestion]:
    return [
        MixQuestion(
            id=q.id,
            text=q.question,
            language=q.language,
            kind=q.expected_outcome,
            gold=tuple(q.expected_card_ids),
            source="golden",
            groups=tuple(q.groups),
            as_of=q.as_of,
            cross_language=q.cross_language,
        )
        for q in questions
    ]


def tatoeba_questions(languages: Sequence[str], per_language: int, folder: Path | None = None) -> list[MixQuestion]:
    """The first `per_language` questions (English side ends with "?") of each language, in that language."""
    root = folder or tatoeba_dir()
    by_code = {code: iso3 for iso3, code in ISO3_TO_CODE.items()}
    out: list[MixQuestion] = []
    for code in languages:
        if code == "en":
            native = english = (root / "tatoeba.fra-eng.eng").read_text(encoding="utf-8").splitlines()
        else:
            iso3 = by_code[code]
            native = (root / f"tatoeba.{iso3}-eng.{iso3}").read_text(encoding="utf-8").splitlines()
            english = (root / f"tatoeba.{iso3}-eng.eng").read_text(encoding="utf-8").splitlines()
        pairs = [(a.strip(), b.strip()) for a, b in zip(native, english, strict=True) if a.strip()]
        chosen = [a for a, b in pairs if b.endswith("?")][:per_language]
        out += [MixQuestion(f"tatoeba-{code}-{i}", a, code, "offtopic", (), "tatoeba") for i, a in enumerate(chosen)]
    return out


FRESH_OFFTOPIC = Path(__file__).resolve().parent / "datasets" / "offtopic-fresh.jsonl"
OFFTOPIC = Path(__file__).resolve().parent / "datasets" / "offtopic.jsonl"


def build_offtopic_set(tatoeba_per_language: int = 20, xquad_per_language: int = 10) -> list[MixQuestion]:
    """Questions no support knowledge base answers, in 14 languages: everyday Tatoeba questions of
    TATOEBA_TEST_LANGUAGES (never fitted on), general-knowledge XQuAD questions (Wikipedia: sport, history,
    science) and 48 general-knowledge questions written for Verity (evals/datasets/offtopic-fresh.jsonl).
    Reads ../shared/datasets; `offtopic_set` reads the bundled copy (evals/datasets/offtopic.jsonl)."""
    fresh = [json.loads(line) for line in FRESH_OFFTOPIC.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = [
        MixQuestion(f"fresh-{i}", q["question"], q["language"], "offtopic", (), "fresh") for i, q in enumerate(fresh)
    ]
    out += tatoeba_questions(TATOEBA_TEST_LANGUAGES, tatoeba_per_language)
    for language in XQUAD_LANGUAGES:
        paragraphs = load_xquad(language)
        picked = [text for p in paragraphs[::24] for text in p.questions[:1]][:xquad_per_language]
        out += [
            MixQuestion(f"xquad-{language}-{i}", t, language, "offtopic", (), "xquad") for i, t in enumerate(picked)
        ]
    return out


LICENSES = {
    "fresh": "written for Verity",
    "tatoeba": "Tatoeba (tatoeba.org), CC BY 2.0 FR",
    "xquad": "XQuAD (github.com/google-deepmind/xquad), CC BY-SA 4.0",
}


def write_offtopic_set(path: Path = OFFTOPIC) -> int:
    lines = [
        json.dumps(
            {"id": q.id, "question": q.text, "language": q.language, "source": q.source, "license": LICENSES[q.source]},
            ensure_ascii=False,
        )
        for q in build_offtopic_set()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def offtopic_set(path: Path = OFFTOPIC) -> list[MixQuestion]:
    """The bundled off-topic set (no ../shared needed): see `build_offtopic_set`."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [MixQuestion(r["id"], r["question"], r["language"], "offtopic", (), r["source"]) for r in rows]


GOLDEN_HELD_OUT = Path(__file__).resolve().parent / "datasets" / "golden-heldout.jsonl"


def held_out_lines(golden: Path) -> list[str]:
    """The golden set's lines that the decision model is never fitted on (CI gates on them)."""
    from evals.golden import load_golden

    held = {q.id for q in golden_split(load_golden(golden))[1]}
    return [
        line
        for line in golden.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["id"] in held
    ]


def main() -> None:
    """Regenerates the bundled files derived from the golden set and ../shared/datasets."""
    from evals.golden import DEFAULT_GOLDEN

    lines = held_out_lines(DEFAULT_GOLDEN)
    GOLDEN_HELD_OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} held-out questions -> {GOLDEN_HELD_OUT}")
    print(f"{write_offtopic_set()} off-topic questions -> {OFFTOPIC}")


if __name__ == "__main__":
    main()
