"""The one answer-or-refuse rule. `/v1/ask`, `/v1/search`'s `relevance`, reply drafts, MCP and every eval
decide with this module and nothing else.

Every retrieved card gets a **confidence**: the probability, under a small logistic model, that the card
answers the question. Its inputs (`Signals`) mean the same on every knowledge base: language-centred
cosines against reference centroids (rag/retrieval/centering.py, rag/retrieval/reference.py) expressed on the
embedder's own scale (0 = an unrelated sentence, 1 = a translation of the question), the card's lead over the best
other card, or, where the knowledge base has none, over a fixed floor, exact-term matches, and whether
question and card share a language. None depends on how many cards the knowledge base holds, in how many
languages, or on any optional field.

The coefficients are fitted offline (`python -m evals.calibrate`) on data that is not what they are judged
on (XQuAD in four languages: answerable questions, near misses whose paragraph is held back, questions
on absent articles; a third of the golden set; off-topic Tatoeba questions of some languages); README
"How the decision is made" has the leave-one-language-out figures. They ship as `rag/data/decision.json`.

The rule, on the confidences:
1. answer from the trusted cards whose confidence reaches `answer_confidence`, when the best of them is
   not beaten by an untrusted card by more than `untrusted_margin`;
2. otherwise refuse: `only_unverified` / `only_expired` naming the untrusted cards that reach the bar
   (they are what the question is about), `no_evidence` when none does.
A card's confidence is that of its best *quotable* record (a sentence; a chunk for a card without
sentence records): a card whose words resemble the question but none of whose sentences answers it does
not reach the bar, and the extractive answer quotes only sentences that do.

Without reference centroids for the embedder (an unknown model behind an endpoint, no
VERITY_CENTROIDS_FILE) scores cannot be put on a scale, so `Judge` runs uncalibrated: a card is confident
only when it holds every exact identifier of the question (an error code, a SKU) and leads the ranking.
Verity then refuses far more, and never answers an open question from a loose resemblance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from rag.config import default_of
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import RecordKind
from rag.retrieval.evidence import CardEvidence
from rag.retrieval.reference import Anchors


@dataclass(frozen=True, slots=True)
class Signals:
    """What the rule reads of one (question, card record) pair."""

    relevance: float  # best centred cosine of any record of the card, on the anchor scale
    record: float  # centred cosine of the record judged (a sentence, or a chunk), on the anchor scale
    neutral: float  # that record's plain cosine less its language's offset, on the anchor scale
    lead: float  # the card's ranking score less the best other card's (or the floor), on the anchor scale
    lexical: float  # the card's lexical and exact-identifier bonus (rag/retrieval/retriever.py)
    same_language: float  # 1.0 when the question and the record are in the same language

    def values(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, f.name)) for f in fields(self))


SIGNAL_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Signals))


@dataclass(frozen=True, slots=True)
class Scale:
    """Puts an embedder's scores on one scale with its reference anchors (rag/retrieval/reference.py)."""

    anchors: Anchors

    def centred(self, score: float) -> float:
        a = self.anchors
        return (score - a.centred_unrelated) / (a.centred_related - a.centred_unrelated)

    def neutral(self, score: float) -> float:
        a = self.anchors
        return (score - a.neutral_unrelated) / (a.neutral_related - a.neutral_unrelated)

    def difference(self, delta: float) -> float:
        a = self.anchors
        return delta / (a.centred_related - a.centred_unrelated)

    def ranking_score(self, level: float, affinity_weight: float) -> float:
        """The ranking score (centred + weight x neutral) of a card `level` anchor-steps above an unrelated
        one: how a model-independent floor becomes this embedder's."""
        a = self.anchors
        unrelated = a.centred_unrelated + affinity_weight * a.neutral_unrelated
        return unrelated + level * (a.centred_related - a.centred_unrelated)

    def ranking_level(self, score: float, affinity_weight: float) -> float:
        """Inverse of `ranking_score`."""
        return self.difference(score - self.ranking_score(0.0, affinity_weight))


@dataclass(frozen=True, slots=True)
class DecisionModel:
    """confidence = sigmoid(intercept + Σ weight_i · signal_i)."""

    weights: tuple[float, ...]
    intercept: float
    lead_floor: float  # the best unrelated card's ranking score, in anchor steps (`Scale.ranking_level`)
    answer_confidence: float  # the default bar; VERITY_ANSWER_CONFIDENCE overrides it
    fitted_on: str = ""

    def __post_init__(self) -> None:
        if len(self.weights) != len(SIGNAL_NAMES):
            raise ValueError(f"{len(self.weights)} weights for {len(SIGNAL_NAMES)} signals")

    def confidence(self, signals: Signals) -> float:
        return float(self.confidences(np.array([signals.values()]))[0])

    def confidences(self, values: np.ndarray) -> np.ndarray:
        """The confidence of each row of signal values (columns in SIGNAL_NAMES order)."""
        z = np.clip(values @ np.array(self.weights) + self.intercept, -60.0, 60.0)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    @classmethod
    def bundled(cls) -> DecisionModel:
        return cls.load(Path(str(resources.files("rag") / "data" / "decision.json")))

    @classmethod
    def load(cls, path: Path) -> DecisionModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            names = tuple(data["signals"])
            if names != SIGNAL_NAMES:
                raise ValueError(f"signals {names}, expected {SIGNAL_NAMES}")
            return cls(
                weights=tuple(float(data["weights"][n]) for n in names),
                intercept=float(data["intercept"]),
                lead_floor=float(data["lead_floor"]),
                answer_confidence=float(data["answer_confidence"]),
                fitted_on=str(data.get("fitted_on", "")),
            )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise VerityError(ErrorCode.CONFIGURATION, f"cannot read the decision model {path}: {exc}") from exc

    def save(self, path: Path) -> None:
        data = {
            "signals": list(SIGNAL_NAMES),
            "weights": dict(zip(SIGNAL_NAMES, (round(w, 6) for w in self.weights), strict=True)),
            "intercept": round(self.intercept, 6),
            "lead_floor": round(self.lead_floor, 6),
            "answer_confidence": self.answer_confidence,
            "fitted_on": self.fitted_on,
        }
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    answer_confidence: float = 0.5
    untrusted_margin: float = 0.1  # in confidence: an untrusted card this much more confident wins


class Judged(Protocol):
    @property
    def confidence(self) -> float: ...


J = TypeVar("J", bound=Judged)


def answers(best_trusted: float | None, best_untrusted: float | None, policy: DecisionPolicy) -> bool:
    """Pure: whether the best trusted and untrusted confidences lead to an answer (the eval harness replays
    it at other bars)."""
    if best_trusted is None or best_trusted < policy.answer_confidence:
        return False
    return best_untrusted is None or best_trusted >= best_untrusted - policy.untrusted_margin


def split(trusted: Sequence[J], untrusted: Sequence[J], policy: DecisionPolicy) -> tuple[tuple[J, ...], tuple[J, ...]]:
    """(cards to answer from, untrusted cards to name in a refusal): at most one of them is non-empty;
    neither is no_evidence."""
    best_trusted = max((c.confidence for c in trusted), default=None)
    best_untrusted = max((c.confidence for c in untrusted), default=None)
    if answers(best_trusted, best_untrusted, policy):
        return tuple(c for c in trusted if c.confidence >= policy.answer_confidence), ()
    return (), tuple(c for c in untrusted if c.confidence >= policy.answer_confidence)


def quotable(card: CardEvidence) -> list[int]:
    """Indexes of the records an answer may quote: the sentences, or the chunks of a card without any."""
    sentences = [i for i, e in enumerate(card.evidence) if e.kind is RecordKind.SENTENCE]
    return sentences or list(range(len(card.evidence)))


class Judge:
    """Gives every card of a ranking its confidence and each of its records theirs."""

    def __init__(
        self, model: DecisionModel, scale: Scale | None, affinity_weight: float = default_of("affinity_weight")
    ) -> None:
        self.model = model
        self.scale = scale  # None: no reference centroids for this embedder (uncalibrated)
        # the floor of `lead` as a ranking score of this embedder (the model stores it in anchor steps)
        self.floor = scale.ranking_score(model.lead_floor, affinity_weight) if scale is not None else 0.0

    @property
    def calibrated(self) -> bool:
        return self.scale is not None

    def signals(self, card: CardEvidence, index: int, lead: float, question_language: str | None) -> Signals:
        scale = self.scale
        assert scale is not None
        record = card.evidence[index]
        return Signals(
            relevance=scale.centred(card.dense_score),
            record=scale.centred(record.centred),
            neutral=scale.neutral(record.neutral),
            lead=scale.difference(lead),
            lexical=card.boost,
            same_language=1.0 if question_language is not None and record.language == question_language else 0.0,
        )

    def leads(self, cards: Sequence[CardEvidence]) -> list[float]:
        """Each card's ranking score less the best *other* card's, or the model's floor when that is higher:
        a knowledge base of one card is judged like one of thousands."""
        scores = [c.rank_score for c in cards]
        return [score - max([*scores[:i], *scores[i + 1 :], self.floor]) for i, score in enumerate(scores)]

    def table(self, cards: Sequence[CardEvidence], question_language: str | None) -> list[dict[int, Signals]]:
        """The signals of every quotable record of every card (what `judge` scores; evals fit on them)."""
        return [
            {i: self.signals(card, i, lead, question_language) for i in quotable(card)}
            for card, lead in zip(cards, self.leads(cards), strict=True)
        ]

    def judge(
        self, cards: Sequence[CardEvidence], question_language: str | None, identifiers: Sequence[str] = ()
    ) -> list[CardEvidence]:
        """`cards` ranked best first (every visible card retrieved, trusted or not) -> the same cards with
        their confidences."""
        if self.scale is None:
            return [_uncalibrated(card, position, identifiers) for position, card in enumerate(cards)]
        table = self.table(cards, question_language)
        rows = [signals.values() for records in table for signals in records.values()]
        scored = iter(self.model.confidences(np.array(rows)).tolist() if rows else [])
        judged = []
        for card, records in zip(cards, table, strict=True):
            confidences = [0.0] * len(card.evidence)
            for i in records:
                confidences[i] = next(scored)
            judged.append(
                replace(card, confidence=max(confidences, default=0.0), record_confidences=tuple(confidences))
            )
        return judged


def _uncalibrated(card: CardEvidence, position: int, identifiers: Sequence[str]) -> CardEvidence:
    """Confident only in the top card, and only when it holds every identifier the question names."""
    holds_all = bool(identifiers) and card.identifier_share >= 1.0 and position == 0
    confidences = tuple(1.0 if holds_all and i in quotable(card) else 0.0 for i in range(len(card.evidence)))
    return replace(card, confidence=max(confidences, default=0.0), record_confidences=confidences)
