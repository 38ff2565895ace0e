"""Answering from the cards the decision let through: extractively (the sentences that reach the bar, quoted),
or by the chat model, whose reply the citation guard judges. A model that fails after its retries is answered
for extractively (VERITY_LLM_ON_FAILURE=extractive) or its failure raised (error); this is the one place that
rule is written, for answers, streamed answers and reply drafts alike."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from rag.answering.extractive import compose_answer, fallback_sentences, select_sentences
from rag.answering.generation import Judged, PromptEvidence, build_messages, judge, prompt_evidence
from rag.answering.guard.core import Guard
from rag.answering.guard.verifier import QuoteVerifier
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Answer, RecordKind, Refusal, RefusalReason
from rag.ports import ChatModel
from rag.retrieval.evidence import CardEvidence
from rag.services.question import AskPolicy

log = logging.getLogger("verity")

INSUFFICIENT_MESSAGE = (
    "The verified cards found do not answer this question. Ask the owner of the closest card, "
    "or write a new card for it."
)
UNSUPPORTED_MESSAGE = (
    "The generated answer was not supported by the verified cards it cited, so it was withheld; "
    "the rejected sentences are listed. Check the cards or ask their owner."
)


def withheld_message(judged: Judged) -> str:
    """Why nothing of a generated reply was kept: the model said the evidence is insufficient, or the guard
    rejected what it wrote."""
    return INSUFFICIENT_MESSAGE if judged.insufficient else UNSUPPORTED_MESSAGE


def withheld(judged: Judged) -> Refusal:
    return Refusal(RefusalReason.NO_EVIDENCE, withheld_message(judged), (), judged.dropped)


class Answerer:
    def __init__(self, policy: AskPolicy, chat: ChatModel | None, guard: Guard, verifier: QuoteVerifier | None) -> None:
        self.policy = policy
        self.chat = chat
        self.guard = guard
        self.verifier = verifier

    def answer(
        self, question: str, cards: Sequence[CardEvidence], timings: dict[str, float]
    ) -> tuple[Answer | None, Refusal | None]:
        """The chat model answers from the verified cards only and the guard decides what of it is kept;
        without a model (or when it failed), the extractive answer."""
        if self.chat is None:
            return self.extractive(cards), None
        evidence = prompt_evidence(cards, self.policy.tokens_per_card)
        judged = self.complete_and_judge(build_messages(question, evidence), evidence, timings, "answering")
        if judged is None:
            return self.extractive(cards), None
        if judged.answer is not None:
            return judged.answer, None
        return None, withheld(judged)

    def extractive(self, cards: Sequence[CardEvidence]) -> Answer:
        """Quote the sentences that reach the bar themselves, best first (a card without sentence records:
        its best chunk)."""
        bar = self.policy.answer_confidence
        sentences = [
            e
            for c in cards
            for e, confidence in zip(c.evidence, c.record_confidences, strict=True)
            if e.kind is RecordKind.SENTENCE and confidence >= bar
        ]
        chosen = select_sentences(sentences, self.policy.extractive) or fallback_sentences(cards[0])
        return compose_answer(chosen, cards)

    def complete_and_judge(
        self, messages: list[dict[str, str]], evidence: list[PromptEvidence], timings: dict[str, float], doing: str
    ) -> Judged | None:
        """The model's whole reply, guarded; None when the model failed and Verity answers extractively."""
        assert self.chat is not None
        started = time.perf_counter()
        try:
            reply = self.chat.complete(messages)
        except VerityError as exc:
            self.model_failed(exc, timings, doing)
            return None
        generated = time.perf_counter()
        timings["generate_ms"] = (generated - started) * 1000
        judged = judge(reply, evidence, self.guard, self.policy.unsupported, self.verifier)
        timings["guard_ms"] = (time.perf_counter() - generated) * 1000
        return judged

    def model_failed(self, exc: VerityError, timings: dict[str, float], doing: str) -> None:
        """The chat model failed after its retries: raise it again (VERITY_LLM_ON_FAILURE=error, or not a model
        failure), or note it (`llm_failed` in the timings) for the caller to answer extractively."""
        if exc.code is not ErrorCode.LLM_UNAVAILABLE or not self.policy.llm_fallback:
            raise exc
        log.warning("chat model failed, %s extractively: %s", doing, exc.message)
        timings["llm_failed"] = 1.0
