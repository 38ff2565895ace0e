"""Build the heavy objects once, from one Settings, and hand them out explicitly."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC

from rag.chroma_index import ChromaCardIndex, build_client
from rag.clock import Clock, FixedClock, SystemClock
from rag.embedders import build_embedder
from rag.extractive import ExtractivePolicy
from rag.ports import CardIndex, Embedder
from rag.service import AskPolicy, Verity
from rag.settings import Settings

log = logging.getLogger("verity")


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    embedder: Embedder
    index: CardIndex
    verity: Verity
    clock: Clock


def ask_policy(settings: Settings) -> AskPolicy:
    return AskPolicy(
        top_k=settings.top_k,
        relevance_threshold=settings.relevance_threshold,
        untrusted_margin=settings.untrusted_margin,
        lexical_weight=settings.lexical_weight,
        lexical_saturation=settings.lexical_saturation,
        exact_term_weight=settings.exact_term_weight,
        extractive=ExtractivePolicy(max_sentences=settings.max_answer_sentences, margin=settings.sentence_margin),
        max_question_chars=settings.max_question_chars,
    )


def open_index(settings: Settings, embedder: Embedder) -> ChromaCardIndex:
    return ChromaCardIndex(build_client(settings), settings.collection, embedder.name, embedder.dim)


def clock_from(settings: Settings) -> Clock:
    if settings.frozen_now is None:
        return SystemClock()
    log.warning("VERITY_FROZEN_NOW is set: the verification gate reads %s, not the real time", settings.frozen_now)
    instant = settings.frozen_now
    return FixedClock(instant if instant.tzinfo else instant.replace(tzinfo=UTC))


def build_runtime(settings: Settings, embedder: Embedder | None = None, clock: Clock | None = None) -> Runtime:
    embedder = embedder or build_embedder(settings)
    index = open_index(settings, embedder)
    clock = clock or clock_from(settings)
    verity = Verity(index, embedder, clock, ask_policy(settings))
    return Runtime(settings=settings, embedder=embedder, index=index, verity=verity, clock=clock)
