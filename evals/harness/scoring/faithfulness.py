"""Faithfulness: the offline score (the citation guard, no LLM, always run) and how it agrees with an LLM
judge's score (ragas, evals/harness/scoring/judge.py) when one is configured."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evals.harness.observing.observation import Observation
from evals.harness.scoring.metrics import Scores, mean, share
from rag.answering.guard.core import Guard, GuardEvidence, SentenceVerdict


def supported_share(verdicts: Sequence[SentenceVerdict]) -> float | None:
    """Pure: share of an answer's sentences the guard finds supported by the card they cite."""
    return share(sum(1 for v in verdicts if v.ok), len(verdicts))


class OfflineFaithfulness:
    """Needs no LLM: every answer sentence is checked by the citation guard (rag/answering/guard/core.py) against the
    card it cites, read from the store (not from the answer's own snippet): a citation present and known, the
    numbers and codes in the cited card, meaning supported by a cited sentence, negation agreeing."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def judge(self, observation: Observation) -> list[SentenceVerdict] | None:
        """The guard's verdict on each sentence of an answer; None for a refusal."""
        if observation.answer is None:
            return None
        evidence = [GuardEvidence(c.marker, c.card_id, c.text) for c in observation.citations if c.text is not None]
        return self._guard.check(observation.answer, evidence)

    @staticmethod
    def score(per_answer: Mapping[str, float | None]) -> Scores:
        """Pure: per-answer supported shares -> their mean and the share of answers fully supported."""
        values = [v for v in per_answer.values() if v is not None]
        return {
            "faithfulness.offline": mean(values),
            "faithfulness.offline_all_supported": share(sum(1 for v in values if v >= 1.0), len(values)),
        }


@dataclass(frozen=True, slots=True)
class Agreement:
    both: int  # answers scored by both judges
    agree: int  # answers both call faithful, or both call unfaithful (score >= cut)
    mean_abs_diff: float | None

    @property
    def rate(self) -> float | None:
        return share(self.agree, self.both)


def agreement(offline: Mapping[str, float | None], judged: Mapping[str, float | None], cut: float = 0.5) -> Agreement:
    """Pure: how often the offline score and the LLM judge's score agree on faithful / unfaithful."""
    both = [(offline[k], v) for k, v in judged.items() if v is not None and offline.get(k) is not None]
    pairs = [(a, b) for a, b in both if a is not None and b is not None]
    agree = sum(1 for a, b in pairs if (a >= cut) == (b >= cut))
    return Agreement(len(pairs), agree, mean(abs(a - b) for a, b in pairs))


def ragas_scores(judged: Mapping[str, float | None], offline: Mapping[str, float | None]) -> Scores:
    """Pure: the LLM judge's mean faithfulness, how many answers it scored, and its agreement with the
    offline score."""
    values = [v for v in judged.values() if v is not None]
    agreed = agreement(offline, judged)
    return {
        "faithfulness.ragas": mean(values),
        "faithfulness.ragas_scored": len(values),
        "faithfulness.ragas_failed": sum(1 for v in judged.values() if v is None),
        "faithfulness.agreement": agreed.rate,
        "faithfulness.mean_abs_diff": agreed.mean_abs_diff,
    }
