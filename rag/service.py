"""Verity's two questions: `ask` (answer from verified evidence, or refuse with a reason) and `search`.

How `ask` decides (every score is a language-centred cosine, see rag/centering.py):
1. one query for trusted records (verified, not expired at `now`, visible to the asker) and one for
   untrusted records (never verified or expired, visible), chunks and sentences alike;
2. each card scores its best record; `best_trusted` and `best_untrusted` are the top card scores;
3. answer when best_trusted >= relevance_threshold and best_trusted >= best_untrusted - untrusted_margin:
   quote the best sentences of the trusted cards above the threshold;
4. otherwise refuse: only_unverified / only_expired when an untrusted card is above the threshold
   (it is what the question is about), no_evidence when nothing is.
Step 3's second condition stops a loosely related verified card from answering a question whose real
subject is an unverified or expired card.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rag.centering import LanguageCentroids, PreparedQuery
from rag.clock import Clock
from rag.errors import ErrorCode, VerityError
from rag.evidence import CardEvidence, chunk_body, group_by_card, to_evidence
from rag.extractive import ExtractivePolicy, compose_answer, fallback_sentences, select_sentences
from rag.ports import CardIndex, Embedder, Scope, TrustFilter
from rag.refusals import refuse
from rag.trust import TrustStatus
from rag.types import Answer, Asker, AskResult, Evidence, RecordKind, SearchHit, SearchResult

MAX_SEARCH_SNIPPET_CHARS = 300
RECORDS_PER_CARD = 12  # records fetched per wanted card: chunks plus sentences


@dataclass(frozen=True, slots=True)
class AskPolicy:
    top_k: int = 5
    relevance_threshold: float = 0.28
    untrusted_margin: float = 0.02
    extractive: ExtractivePolicy = field(default_factory=ExtractivePolicy)
    max_question_chars: int = 2000


@dataclass(frozen=True, slots=True)
class Decision:
    """Pure outcome of the scores: which cards may answer, or which untrusted cards explain a refusal."""

    answer_from: tuple[CardEvidence, ...]
    refuse_with: tuple[CardEvidence, ...]


def decide(trusted: Sequence[CardEvidence], untrusted: Sequence[CardEvidence], policy: AskPolicy) -> Decision:
    best_trusted = trusted[0].score if trusted else float("-inf")
    best_untrusted = untrusted[0].score if untrusted else float("-inf")
    relevant_untrusted = tuple(c for c in untrusted if c.score >= policy.relevance_threshold)
    if best_trusted >= policy.relevance_threshold and best_trusted >= best_untrusted - policy.untrusted_margin:
        return Decision(tuple(c for c in trusted if c.score >= policy.relevance_threshold), ())
    return Decision((), relevant_untrusted)


class Verity:
    def __init__(self, index: CardIndex, embedder: Embedder, clock: Clock, policy: AskPolicy) -> None:
        self._index = index
        self._embedder = embedder
        self._clock = clock
        self.policy = policy

    def _check_text(self, text: str, what: str) -> str:
        cleaned = text.strip()
        if not cleaned:
            raise VerityError(ErrorCode.INVALID_REQUEST, f"the {what} is empty")
        if len(cleaned) > self.policy.max_question_chars:
            raise VerityError(
                ErrorCode.INVALID_REQUEST,
                f"the {what} has {len(cleaned)} characters; the limit is {self.policy.max_question_chars}",
            )
        return cleaned

    def _top_k(self, top_k: int | None) -> int:
        k = self.policy.top_k if top_k is None else top_k
        if not 1 <= k <= 50:
            raise VerityError(ErrorCode.INVALID_REQUEST, "top_k must be between 1 and 50")
        return k

    def _retrieve(
        self,
        query: PreparedQuery,
        centroids: LanguageCentroids,
        asker: Asker,
        now: datetime,
        trust: TrustFilter,
        k: int,
    ) -> list[Evidence]:
        scope = Scope(asker=asker, now_epoch=int(now.timestamp()), trust=trust)
        hits = self._index.query(query.candidate, scope, k * RECORDS_PER_CARD)
        evidence = to_evidence(hits, asker, now, centroids, query)
        if trust is TrustFilter.TRUSTED:  # defence in depth: the store's filter is checked again
            evidence = [e for e in evidence if e.trust is TrustStatus.VERIFIED]
        return evidence

    def ask(self, question: str, asker: Asker, top_k: int | None = None) -> AskResult:
        question = self._check_text(question, "question")
        k = self._top_k(top_k)
        now = self._clock.now()
        started = time.perf_counter()
        vector = self._embedder.embed_query(question)
        embedded = time.perf_counter()
        centroids = self._index.language_centroids()
        query = centroids.prepare_query(vector)
        trusted_evidence = self._retrieve(query, centroids, asker, now, TrustFilter.TRUSTED, k)
        untrusted_evidence = self._retrieve(query, centroids, asker, now, TrustFilter.UNTRUSTED, k)
        retrieved = time.perf_counter()
        decision = decide(group_by_card(trusted_evidence, k), group_by_card(untrusted_evidence, k), self.policy)
        timings = {"embed_ms": (embedded - started) * 1000, "retrieve_ms": (retrieved - embedded) * 1000}
        if not decision.answer_from:
            refusal = refuse(decision.refuse_with)
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            return AskResult(question=question, as_of=now, refusal=refusal, timings_ms=timings)
        answer = self._answer(decision.answer_from)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return AskResult(question=question, as_of=now, answer=answer, timings_ms=timings)

    def _answer(self, cards: Sequence[CardEvidence]) -> Answer:
        sentences = [e for c in cards for e in c.evidence if e.kind is RecordKind.SENTENCE]
        chosen = select_sentences(sentences, self.policy.extractive) or fallback_sentences(cards[0])
        return compose_answer(chosen, cards)

    def search(self, query: str, asker: Asker, top_k: int | None = None) -> SearchResult:
        query = self._check_text(query, "query")
        k = self._top_k(top_k)
        now = self._clock.now()
        centroids = self._index.language_centroids()
        prepared = centroids.prepare_query(self._embedder.embed_query(query))
        cards = group_by_card(self._retrieve(prepared, centroids, asker, now, TrustFilter.ANY, k), k)
        hits = tuple(
            SearchHit(
                facts=c.facts,
                trust=c.trust,
                score=round(c.score, 4),
                snippet=_snippet(c) if c.trust is TrustStatus.VERIFIED else None,
            )
            for c in cards
        )
        return SearchResult(query=query, as_of=now, hits=hits)


def _snippet(card: CardEvidence) -> str:
    best = card.evidence[0]
    text = chunk_body(best.text, card.facts.title) if best.kind is RecordKind.CHUNK else best.text
    return text[:MAX_SEARCH_SNIPPET_CHARS]
