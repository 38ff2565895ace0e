"""The harness's metrics: each a small class over observations, its scoring a pure function of plain values.

Names are flat ("refusal.no_evidence.recall"): the JSON report, the HTML page and the baseline's
tolerances all use them. A metric with nothing to measure (no answered question, say) is None, never
a flattering 1.0.

Each metric also names the per-question check it rests on (`CHECKS`), so that a gate failure can say
which questions went from passing to failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from evals.golden import summarize
from evals.harness.observing.observation import Observation

REASONS = ("no_evidence", "only_unverified", "only_expired")
Scores = dict[str, float | int | None]


def share(numerator: int, denominator: int) -> float | None:
    """Pure: numerator / denominator, None when there is nothing to divide."""
    return numerator / denominator if denominator else None


def mean(values: Iterable[float]) -> float | None:
    """Pure: the mean, None for no values."""
    items = list(values)
    return sum(items) / len(items) if items else None


def refusal_precision_recall(pairs: Sequence[tuple[str, str]]) -> tuple[float | None, float | None]:
    """Pure: refusal precision and recall from (expected, actual) outcomes, "answer" or any refusal.

    Precision = of the refused, how many should have been; recall = of those that should be refused, how
    many were (whatever the reason). None where there is nothing to divide (nothing refused, nothing to
    refuse). The one implementation: the harness, the golden test, evals.calibrate and evals.benchmarks.retrieval
    use it.
    """
    refused = [e for e, a in pairs if a != "answer"]  # what each refused question expected
    should = [a for e, a in pairs if e != "answer"]  # what each should-refuse question got
    precision = share(sum(1 for e in refused if e != "answer"), len(refused))
    recall = share(sum(1 for a in should if a != "answer"), len(should))
    return precision, recall


def refusal_scores(pairs: Sequence[tuple[str, str]]) -> Scores:
    """Pure: refusal precision and recall, overall and per reason code, from (expected, actual) outcomes.

    Overall: `refusal_precision_recall`. Per reason r: precision = of refusals given as r, how
    many expected r; recall = of the questions expecting r, how many got r. Wrong answers (answered
    although a refusal was expected) are counted apart: they are the costly error.
    """
    should = [(e, a) for e, a in pairs if e != "answer"]
    wrong = sum(1 for _, a in should if a == "answer")
    precision, recall = refusal_precision_recall(pairs)
    scores: Scores = {
        "refusal.precision": precision,
        "refusal.recall": recall,
        "refusal.wrong_answers": wrong,
        "refusal.wrong_answer_rate": share(wrong, len(should)),
        "refusal.missed_answers": sum(1 for e, a in pairs if e == "answer" and a != "answer"),
    }
    for reason in REASONS:
        hits = sum(1 for e, a in pairs if e == reason and a == reason)
        scores[f"refusal.{reason}.precision"] = share(hits, sum(1 for _, a in pairs if a == reason))
        scores[f"refusal.{reason}.recall"] = share(hits, sum(1 for e, _ in pairs if e == reason))
    return scores


class OutcomeMetric:
    """Answer or refuse, and with which card: the golden set's own summary plus the answer rate."""

    def score(self, observations: Sequence[Observation]) -> Scores:
        verdicts = [o.verdict for o in observations]
        if not verdicts:
            return {}
        summary = summarize(verdicts)
        answerable = [v for v in verdicts if not v.should_refuse]
        cross = [v for v in answerable if v.question.cross_language]
        return {
            "outcome.accuracy": summary.outcome_accuracy,
            "answer.rate": share(sum(not v.refused for v in answerable), len(answerable)),
            "answer.expected_card_cited": share(sum(v.correct for v in answerable), len(answerable)),
            "answer.cross_language_correct": share(sum(v.correct for v in cross), len(cross)),
        }


class RefusalMetric:
    def score(self, observations: Sequence[Observation]) -> Scores:
        return refusal_scores([(o.question.expected_outcome, o.verdict.outcome) for o in observations])


def citation_precision(cited: Sequence[str], expected: Sequence[str]) -> float | None:
    """Pure: share of the cited cards that are expected ones (ID-based context precision)."""
    unique = set(cited)
    return share(len(unique & set(expected)), len(unique))


def citation_recall(cited: Sequence[str], expected: Sequence[str]) -> float | None:
    """Pure: share of the expected cards that were cited (ID-based context recall)."""
    wanted = set(expected)
    return share(len(set(cited) & wanted), len(wanted))


def trusted_share(flags: Sequence[bool]) -> float | None:
    """Pure: share of citations that point at evidence verified at the answer's instant and visible to the
    asker. Anything under 1.0 is a trust or visibility leak."""
    return share(sum(flags), len(flags))


class CitationMetric:
    """Citations of answers to answerable questions against the expected cards; and every citation of every
    answer (also wrong answers) against the card's own trust facts and groups."""

    def score(self, observations: Sequence[Observation]) -> Scores:
        answered = [o for o in observations if o.verdict.outcome == "answer" and not o.verdict.should_refuse]
        precision = [citation_precision(o.verdict.cited, o.question.expected_card_ids) for o in answered]
        recall = [citation_recall(o.verdict.cited, o.question.expected_card_ids) for o in answered]
        flags = [c.trusted for o in observations for c in o.citations]
        return {
            "citation.precision": mean(p for p in precision if p is not None),
            "citation.recall": mean(r for r in recall if r is not None),
            "citation.trusted_share": trusted_share(flags),
            "citation.untrusted": sum(1 for f in flags if not f),
        }


def first_rank(ranked: Sequence[str], expected: Sequence[str]) -> int | None:
    """Pure: the 1-based rank of the first expected card in a ranking, None when absent."""
    wanted = set(expected)
    return next((i for i, card in enumerate(ranked, start=1) if card in wanted), None)


def recall_at(ranks: Sequence[int | None], k: int) -> float | None:
    """Pure: share of questions whose first expected card is within the top k."""
    return share(sum(1 for r in ranks if r is not None and r <= k), len(ranks))


def mrr(ranks: Sequence[int | None]) -> float | None:
    """Pure: mean reciprocal rank of the first expected card (0 when it was not retrieved)."""
    return mean(1.0 / r if r is not None else 0.0 for r in ranks)


class RetrievalMetric:
    """From the search ranking of every question that names expected cards (answers and only_* refusals)."""

    def __init__(self, ks: Sequence[int] = (1, 3, 5)) -> None:
        self.ks = tuple(ks)

    def score(self, observations: Sequence[Observation]) -> Scores:
        ranks = [
            first_rank([r.card_id for r in o.ranking], o.question.expected_card_ids)
            for o in observations
            if o.question.expected_card_ids
        ]
        scores: Scores = {f"retrieval.recall@{k}": recall_at(ranks, k) for k in self.ks}
        scores["retrieval.mrr"] = mrr(ranks)
        return scores


def percentile(values: Sequence[float], q: float) -> float | None:
    """Pure: the q-th percentile (0-100, linear interpolation), None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def ratio(value: float | None, floor: float | None) -> float | None:
    """Pure: value / floor, None when either is missing or the floor is not positive."""
    return value / floor if value is not None and floor is not None and floor > 0 else None


class LatencyMetric:
    """Answer latency, and (in process) its ratio to the floor measured beside each answer: one query
    embedding plus one Chroma query. Absolute times on a shared machine are noise; the ratios are what the
    gate compares."""

    def score(self, observations: Sequence[Observation]) -> Scores:
        values = [o.verdict.latency_ms for o in observations]
        floors = [o.floor_ms for o in observations if o.floor_ms is not None]
        measured = len(floors) == len(values)  # over HTTP there is no floor: no ratio
        p50, p95 = percentile(values, 50), percentile(values, 95)
        f50 = percentile(floors, 50) if measured else None
        f95 = percentile(floors, 95) if measured else None
        return {
            "latency.p50_ms": p50,
            "latency.p95_ms": p95,
            "latency.max_ms": max(values) if values else None,
            "latency.floor_p50_ms": f50,
            "latency.floor_p95_ms": f95,
            "latency.p50_vs_floor": ratio(p50, f50),
            "latency.p95_vs_floor": ratio(p95, f95),
        }


RETRIEVED_K = 5
CHECKS = {  # metric name prefix -> the per-question check that explains it
    "outcome.": "outcome",
    "answer.": "outcome",
    "refusal.": "outcome",
    "citation.precision": "outcome",
    "citation.recall": "outcome",
    "citation.trusted_share": "trusted_citations",
    "citation.untrusted": "trusted_citations",
    "faithfulness.ragas": "ragas_faithful",
    "faithfulness.": "faithful",
    "retrieval.": "retrieved",
}


def check_for(metric: str) -> str | None:
    """Pure: the per-question check behind a metric (longest matching prefix), None for latency."""
    matches = [prefix for prefix in CHECKS if metric.startswith(prefix)]
    return CHECKS[max(matches, key=len)] if matches else None


def question_checks(observation: Observation, offline: float | None, judged: float | None) -> dict[str, bool]:
    """Pure: pass/fail of one question on each check (a check that does not apply passes)."""
    o = observation
    rank = first_rank([r.card_id for r in o.ranking], o.question.expected_card_ids)
    checks = {
        "outcome": o.verdict.correct,
        "trusted_citations": all(c.trusted for c in o.citations),
        "faithful": offline is None or offline >= 1.0,
        "retrieved": not o.question.expected_card_ids or (rank is not None and rank <= RETRIEVED_K),
    }
    if judged is not None:
        checks["ragas_faithful"] = judged >= 0.5
    return checks
