"""A question under its policy: `AskPolicy` (what rag/bootstrap.py builds from Settings) and `Prepared`, the
question checked, embedded, ranked and decided on, which every way of answering it starts from."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from rag.answering.extractive import ExtractivePolicy
from rag.answering.guard.core import GuardPolicy
from rag.config import GuardVerifier, LlmFailure, LlmUnsupported, default_of
from rag.domain.types import Answer, AskResult, RecordKind, Refusal
from rag.domain.vectors import Vectors
from rag.retrieval.decision import DecisionPolicy
from rag.retrieval.evidence import CardEvidence
from rag.retrieval.retriever import RetrievalPolicy


@dataclass(frozen=True, slots=True)
class AskPolicy:
    """What rag/bootstrap.py `ask_policy` builds from Settings; each default Settings holds is its field's own."""

    top_k: int = default_of("top_k")
    # the decision's bar (rag/retrieval/decision.py). Settings' default (None) is the decision model's own bar, which
    # only the factory knows; 0.5 is the bar of the tests' plain model (tests/fakes.py plain_calibration)
    answer_confidence: float = 0.5
    untrusted_margin: float = default_of("untrusted_margin")  # in confidence
    lexical_weight: float = default_of("lexical_weight")  # 0 turns lexical retrieval off
    lexical_saturation: float = default_of("lexical_saturation")  # BM25 score at which half the weight is added
    # added to a card that holds the question's identifiers ("E-4012"); 0: off
    exact_term_weight: float = default_of("exact_term_weight")
    # ranking: weight of the language-neutral plain cosine; 0: centred cosine alone
    affinity_weight: float = default_of("affinity_weight")
    record_kind: RecordKind | None = None  # what dense retrieval compares: chunks, sentences, or both (None)
    extractive: ExtractivePolicy = field(default_factory=ExtractivePolicy)
    max_question_chars: int = default_of("max_question_chars")
    # generated sentences the guard rejects
    unsupported: LlmUnsupported = default_of("llm_unsupported")  # noqa: RUF009 - an enum member: immutable
    # the model failed after its retries: answer extractively (False: 503)
    llm_fallback: bool = default_of("llm_on_failure") is LlmFailure.EXTRACTIVE
    tokens_per_card: int = default_of("llm_tokens_per_card")  # evidence tokens per card in a model's prompt
    guard: GuardPolicy = field(default_factory=GuardPolicy)
    # the chat model must quote the evidence behind kept sentences (rag/answering/guard/verifier.py)
    verify_quotes: bool = default_of("guard_verifier") is GuardVerifier.MODEL

    @property
    def decision(self) -> DecisionPolicy:
        return DecisionPolicy(self.answer_confidence, self.untrusted_margin)

    @property
    def retrieval(self) -> RetrievalPolicy:
        return RetrievalPolicy(
            self.lexical_weight, self.lexical_saturation, self.exact_term_weight, self.affinity_weight, self.record_kind
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """Which cards may answer, or which untrusted cards explain a refusal (rag/retrieval/decision.py `split`)."""

    answer_from: tuple[CardEvidence, ...]
    refuse_with: tuple[CardEvidence, ...]


@dataclass(slots=True)
class Prepared:
    """A question checked, embedded, ranked and decided on: what answering starts from."""

    question: str
    now: datetime
    started: float
    timings: dict[str, float]
    decision: Decision
    vector: Vectors | None = None  # the question's embedding (recorded with a refusal, for the gap inbox)

    def result(self, answer: Answer | None = None, refusal: Refusal | None = None) -> AskResult:
        self.timings["total_ms"] = (time.perf_counter() - self.started) * 1000
        return AskResult(self.question, self.now, answer=answer, refusal=refusal, timings_ms=dict(self.timings))
