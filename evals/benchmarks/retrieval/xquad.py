"""XQuAD as cards and questions, and the bench that builds a Verity on any set of them (vectors cached)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evals.embedding_cache import CachingEmbedder
from ingest.sources import Location, ParsedCard
from rag.bootstrap import ask_policy, build_calibration, build_ingestor, open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.domain.types import Asker
from rag.ports import Vectors
from rag.retrieval.languages import LanguageIdentifier
from rag.services.ask import Verity

BUNDLED_XQUAD = Path(__file__).resolve().parents[2] / "datasets" / "xquad-small"


def xquad_dir() -> Path:
    """The full XQuAD: $VERITY_XQUAD_DIR, else ../shared/datasets/xquad beside the repository."""
    configured = os.environ.get("VERITY_XQUAD_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[4] / "shared" / "datasets" / "xquad"


NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Question:
    paragraph: int
    text: str
    article: int = 0


def load(folder: Path, language: str, paragraphs: int) -> tuple[list[str], list[Question]]:
    path = folder / f"xquad.{language}.json"
    if not path.is_file():
        raise SystemExit(f"XQuAD file not found: {path} (set VERITY_XQUAD_DIR to the dataset's folder)")
    data = json.loads(path.read_text(encoding="utf-8"))
    contexts: list[str] = []
    questions: list[Question] = []
    for article_no, article in enumerate(data["data"]):
        for paragraph in article["paragraphs"]:
            index = len(contexts)
            contexts.append(paragraph["context"])
            questions += [Question(index, qa["question"], article_no) for qa in paragraph["qas"]]
    keep = min(paragraphs, len(contexts))
    return contexts[:keep], [q for q in questions if q.paragraph < keep]


def card_of(index: int, context: str, language: str) -> Card:
    """A paragraph as a card; its title is its own first words (no English article title leaks in)."""
    words = re.split(r"\s+", context.strip())
    return Card.model_validate(
        {
            "id": f"p{index:03d}",
            "title": " ".join(words[:8])[:120],
            "body": context,
            "state": "verified",
            "verified_at": "2026-11-01T00:00:00Z",
            "verifier": "xquad@verity.example",
            "language": language,
        }
    )


class Bench:
    def __init__(self, languages: list[str], paragraphs: int, folder: Path, dataset: Path | None = None) -> None:
        self.languages = languages
        self.embedder = CachingEmbedder()
        self.settings = Settings(data_dir=folder)
        self.contexts: dict[str, list[str]] = {}
        self.questions: dict[str, list[Question]] = {}
        self.question_vectors: dict[str, Vectors] = {}
        for language in languages:
            self.contexts[language], self.questions[language] = load(dataset or xquad_dir(), language, paragraphs)
            self.question_vectors[language] = np.stack(
                [self.embedder.embed_query(q.text) for q in self.questions[language]]
            )
            self.embedder.embed_passages(self.contexts[language])  # once, cached for every KB and the peer
        self._kbs = 0
        self.detect = LanguageIdentifier().detect
        self.calibration = build_calibration(self.settings, self.embedder, self.detect)

    def verity(self, cards: list[Card]) -> Verity:
        self._kbs += 1
        settings = self.settings.model_copy(update={"collection": f"xquad-{self._kbs}"})
        index = open_index(settings, self.embedder)
        ingestor = build_ingestor(settings, index, self.embedder, self.detect)
        ingestor.run(ParsedCard(c, Location("xquad")) for c in cards)
        return Verity(index, self.embedder, FixedClock(NOW), ask_policy(settings), None, self.calibration)

    def pipeline_ranks(self, verity: Verity, language: str, only: set[int] | None = None) -> list[list[str]]:
        ranked: list[list[str]] = []
        for question, vector in zip(self.questions[language], self.question_vectors[language], strict=True):
            if only is not None and question.paragraph not in only:
                ranked.append([])
                continue
            trusted, _ = verity.rank_cards(question.text, vector, Asker(), NOW, 10)
            ranked.append([c.facts.card_id for c in trusted])
        return ranked

    def pipeline_scores(self, verity: Verity, language: str) -> list[tuple[int, str | None, float]]:
        """(gold paragraph, most confident card, its confidence) per question: what the decision sees."""
        out = []
        for question, vector in zip(self.questions[language], self.question_vectors[language], strict=True):
            trusted, _ = verity.rank_cards(question.text, vector, Asker(), NOW, 5)
            top = max(trusted, key=lambda c: c.confidence, default=None)
            out.append((question.paragraph, top.facts.card_id if top else None, top.confidence if top else 0.0))
        return out
