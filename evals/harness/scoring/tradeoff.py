"""The refusal trade-off: answer rate against wrong-answer rate across confidence bars.

Each observation records the best verified and the best untrusted card's confidence (rag/retrieval/decision.py), so
Verity's answer/refuse rule can be replayed for any bar without asking again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evals.harness.observing.observation import Observation
from evals.harness.scoring.metrics import share
from rag.retrieval.decision import DecisionPolicy, answers


def answers_at(best_trusted: float | None, best_untrusted: float | None, threshold: float, margin: float) -> bool:
    """Pure: Verity's answer/refuse rule (rag/retrieval/decision.py `answers`) on a question's best confidences."""
    return answers(best_trusted, best_untrusted, DecisionPolicy(threshold, margin))


@dataclass(frozen=True, slots=True)
class TradeoffPoint:
    threshold: float
    answer_rate: float | None  # answerable questions answered
    wrong_answer_rate: float | None  # should-refuse questions answered


def tradeoff(
    points: Sequence[tuple[float | None, float | None, bool]], thresholds: Sequence[float], margin: float
) -> list[TradeoffPoint]:
    """Pure: answer rate against wrong-answer rate for each relevance threshold, from each question's
    (best trusted score, best untrusted score, should refuse)."""
    answerable = [(t, u) for t, u, refuse in points if not refuse]
    refusable = [(t, u) for t, u, refuse in points if refuse]
    return [
        TradeoffPoint(
            threshold=round(th, 4),
            answer_rate=share(sum(answers_at(t, u, th, margin) for t, u in answerable), len(answerable)),
            wrong_answer_rate=share(sum(answers_at(t, u, th, margin) for t, u in refusable), len(refusable)),
        )
        for th in thresholds
    ]


def replay_agreement(observations: Sequence[Observation], threshold: float, margin: float) -> float | None:
    """Share of questions where replaying the rule on the recorded scores gives the outcome Verity gave:
    1.0 means the trade-off curve describes the pipeline exactly at its own threshold."""
    same = [
        answers_at(o.best_trusted, o.best_untrusted, threshold, margin) == (o.verdict.outcome == "answer")
        for o in observations
    ]
    return share(sum(same), len(same))
