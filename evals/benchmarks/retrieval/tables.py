"""The figures: recall@1, recall@5 and MRR@10 per language pair and method, the should-refuse trade-off curve,
and a mixed-language KB."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TypedDict

from evals.benchmarks.retrieval.peer import LlamaIndexDense
from evals.benchmarks.retrieval.xquad import Bench, card_of
from evals.harness.scoring.metrics import refusal_precision_recall
from rag.domain.types import RecordKind
from rag.retrieval.decision import DecisionModel, DecisionPolicy, answers
from rag.retrieval.lexical import LexicalIndex

THRESHOLDS = [round(0.1 + 0.05 * i, 2) for i in range(18)]  # confidence bars 0.10 .. 0.95


class CurvePoint(TypedDict):
    threshold: float
    answered_correctly: float
    answered_wrong_card: float
    should_refuse_answered: float
    refusal_precision: float | None  # None: nothing refused at this threshold
    refusal_recall: float | None


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
