"""Observe a golden set through the pipeline in this process, each question at its `as_of` on a fixed clock.

The answer comes from `Verity.ask` (evals/golden.py's `ask_at`, exactly as the golden tests ask); the
ranking and the decision scores come from `Verity.rank_cards`, the ranking `ask` itself decides on, so
the confidences of the trade-off curve are the ones the decision's bar is compared with. The observer
takes any `Answerer` (default: the runtime's `Verity`), so a test can hand it a policy broken on purpose
and see the gate fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from evals.golden import GoldenQuestion, ask_at, verdict_of
from evals.harness.observing.observation import CheckedCitation, Observation, RankedCard, best_scores, check_citation
from rag.bootstrap import Runtime
from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.domain.types import Asker, AskResult
from rag.ports import Scope, TrustFilter, Vectors
from rag.retrieval.evidence import CardEvidence
from rag.services.ask import AskPolicy


class Answerer(Protocol):
    """What an in-process run asks: `Verity` itself, or a policy broken on purpose (tests of the gate)."""

    @property
    def policy(self) -> AskPolicy: ...

    def ask(self, question: str, asker: Asker) -> AskResult: ...

    def rank_cards(
        self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int
    ) -> tuple[list[CardEvidence], list[CardEvidence]]: ...


AnswererFactory = Callable[[Runtime], Answerer]  # the answerer to evaluate, built on the run's runtime


@dataclass(frozen=True, slots=True)
class IndexLookup:
    """Cards straight from the store: the citation check decides visibility itself."""

    runtime: Runtime

    def card(self, card_id: str, groups: Sequence[str]) -> Card | None:
        return self.runtime.index.get_card(card_id)


class InProcessObserver:
    """Runs questions through `answerer` (default: `runtime.verity`), whose clock must be `clock`."""

    def __init__(self, runtime: Runtime, clock: FixedClock, top_k: int, answerer: Answerer | None = None) -> None:
        if runtime.clock is not clock:
            raise ValueError("the runtime must read the fixed clock the observer moves")
        self._runtime = runtime
        self._answerer: Answerer = answerer if answerer is not None else runtime.verity
        self._clock = clock
        self._top_k = top_k
        self._lookup = IndexLookup(runtime)

    @property
    def target(self) -> str:
        settings = self._runtime.settings
        store = (
            f"chroma server {settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_host
            else str(settings.chroma_path)
        )
        return f"in process ({store}, collection {settings.collection!r})"

    def warm_up(self, question: GoldenQuestion) -> None:
        """One answer not measured: the first builds the lexical index and the guard's caches, which no
        later question pays again."""
        ask_at(self._answerer, self._clock, question)

    def card_count(self) -> int:
        return len(self._runtime.index.card_ids())

    def observe_one(self, q: GoldenQuestion) -> Observation:
        answerer = self._answerer
        result = ask_at(answerer, self._clock, q)
        asker = Asker(groups=frozenset(q.groups))
        # the latency floor, measured beside the answer so that both see the same machine load: one query
        # embedding plus one Chroma query (what evals/benchmarks/speed/latency.py calls the floor)
        started = time.perf_counter()
        vector = self._runtime.embedder.embed_query(q.question)
        scope = Scope(asker, int(result.as_of.timestamp()), TrustFilter.TRUSTED)
        self._runtime.index.query(vector, scope, 5)
        floor_ms = (time.perf_counter() - started) * 1000
        trusted, untrusted = answerer.rank_cards(q.question, vector, asker, result.as_of, self._top_k)
        ranked = sorted([*trusted, *untrusted], key=lambda c: c.rank_score, reverse=True)[: self._top_k]
        best_trusted, best_untrusted = best_scores([(c.trust, c.confidence) for c in [*trusted, *untrusted]])
        citations: tuple[CheckedCitation, ...] = ()
        if result.answer is not None:
            citations = tuple(
                check_citation(
                    c.marker, c.card_id, c.snippet, self._lookup.card(c.card_id, q.groups), q.groups, result.as_of
                )
                for c in result.answer.citations
            )
        return Observation(
            verdict=verdict_of(q, result),
            answer=result.answer.text if result.answer is not None else None,
            citations=citations,
            ranking=tuple(RankedCard(c.facts.card_id, c.trust, c.rank_score) for c in ranked),
            answered_at=result.as_of,
            best_trusted=best_trusted,
            best_untrusted=best_untrusted,
            floor_ms=floor_ms,
        )
