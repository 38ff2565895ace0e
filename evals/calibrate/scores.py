"""Judging a decision model on collected rows: each card's confidence, the outcome, the share decided correctly."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.calibrate.collect import Row
from evals.harness.scoring.metrics import refusal_precision_recall
from rag.retrieval.decision import SIGNAL_NAMES, DecisionModel, DecisionPolicy, split


@dataclass(frozen=True, slots=True)
class Judged:
    card_id: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Confidences:
    """Every row's cards with their confidences under one model (computed once, then replayed at any bar)."""

    rows: Sequence[Row]
    trusted: list[list[Judged]]
    untrusted: list[list[Judged]]

    @classmethod
    def of(cls, rows: Sequence[Row], model: DecisionModel) -> Confidences:
        values = [r for row in rows for card in row.cards for r in card.records]
        x = np.array(values, dtype=np.float64).reshape(len(values), len(SIGNAL_NAMES))
        p = iter(model.confidences(x).tolist())
        trusted: list[list[Judged]] = []
        untrusted: list[list[Judged]] = []
        for row in rows:
            judged = [(card, max((next(p) for _ in card.records), default=0.0)) for card in row.cards]
            trusted.append([Judged(c.card_id, conf) for c, conf in judged if c.trusted])
            untrusted.append([Judged(c.card_id, conf) for c, conf in judged if not c.trusted])
        return cls(rows, trusted, untrusted)

    def outcomes(self, policy: DecisionPolicy) -> list[tuple[str, list[str]]]:
        out = []
        for trusted, untrusted in zip(self.trusted, self.untrusted, strict=True):
            answer_from, refuse_with = split(trusted, untrusted, policy)
            if answer_from:
                out.append(("answer", [c.card_id for c in sorted(answer_from, key=lambda c: -c.confidence)]))
            else:
                out.append(("refuse_untrusted" if refuse_with else "no_evidence", [c.card_id for c in refuse_with]))
        return out


def correct(row: Row, result: tuple[str, list[str]]) -> bool:
    q = row.question
    decided, cards = result
    if q.kind == "answerable":  # XQuAD: the most confident card must be the question's paragraph
        return decided == "answer" and cards[0] in q.gold
    if q.kind == "answer":  # golden: as the eval harness counts it, an expected card among those cited
        return decided == "answer" and bool(set(cards) & set(q.gold))
    if q.kind in ("only_unverified", "only_expired"):
        return decided == "refuse_untrusted" and bool(set(cards) & set(q.gold))
    return decided != "answer"


def scores(rows: Sequence[Row], model: DecisionModel | Confidences, policy: DecisionPolicy) -> dict[str, Any]:
    """Per kind: share decided correctly; plus outcome accuracy (kinds weighted equally), and for the golden
    kinds refusal precision and recall and cross-language answers, as the eval harness reports them."""
    judged = model if isinstance(model, Confidences) else Confidences.of(rows, model)
    by_kind: dict[str, list[bool]] = defaultdict(list)
    outcomes: list[tuple[str, str]] = []  # (expected, decided): "answer" or a refusal
    cross: list[bool] = []
    everything: list[bool] = []
    for row, result in zip(judged.rows, judged.outcomes(policy), strict=True):
        ok = correct(row, result)
        everything.append(ok)
        by_kind[row.question.kind].append(ok)
        outcomes.append(("answer" if row.question.should_answer else "refuse", result[0]))
        if row.question.should_answer and row.question.cross_language:
            cross.append(ok)
    out: dict[str, Any] = {kind: _share(v) for kind, v in sorted(by_kind.items())}
    out["n"] = {kind: len(v) for kind, v in sorted(by_kind.items())}
    out["outcome_accuracy"] = _share([_share(v) for v in by_kind.values()])
    precision, recall = refusal_precision_recall(outcomes)
    out["refusal_precision"] = round(precision, 4) if precision is not None else None
    out["refusal_recall"] = round(recall, 4) if recall is not None else None
    out["cross_language_answered"] = _share(cross) if cross else None
    out["all_correct"] = _share(everything)
    return out


def _share(values: Sequence[bool] | Sequence[float]) -> float:
    return round(float(np.mean(values)), 4) if len(values) else float("nan")
