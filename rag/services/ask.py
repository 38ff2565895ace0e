"""Verity's two questions: `ask` (answer from verified evidence, or refuse with a reason) and `search`; and
`check_reply`, which checks a reply someone wrote sentence by sentence (rag/answering/checking.py).

How `ask` decides (steps 1 and 2 are rag/retrieval/retriever.py):
1. the question's language is identified (rag/retrieval/languages.py) and its vector centred by that language's
   reference centroid (rag/retrieval/centering.py); one store query returns the records of every trust class the
   asker may see (visibility is filtered in the store); the trust gate is applied to each record against
   `now`;
2. cards are ranked by their best record (centred cosine, language-neutral affinity, lexical and exact
   identifier bonuses), and rag/retrieval/decision.py gives each card its confidence that it answers the question;
3. rag/retrieval/decision.py `split` answers from the trusted cards whose confidence reaches the bar, unless an
   untrusted card is clearly more confident; otherwise it refuses: only_unverified / only_expired naming
   the untrusted cards above the bar, no_evidence when none is;
4. the extractive answer quotes only sentences that reach the bar themselves.

With a chat model (VERITY_ANSWERER=llm), step 4 hands the same verified cards, and nothing else, to the
model (rag/answering/generation.py); the citation guard keeps only the sentences the cited evidence supports.

Verity checks, embeds and decides (`Prepared`, rag/services/question.py); what follows is written once for every
use: answering (rag/services/answerer.py), streaming (rag/services/streaming.py), reply drafts
(rag/services/drafting.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from rag.answering.checking import CheckResult, ReplySentence, SentenceCheck, judged, not_covered, reply_sentences
from rag.answering.generation import prompt_evidence
from rag.answering.guard.core import Guard, GuardEvidence
from rag.answering.guard.embed_cache import RememberingEmbedder
from rag.answering.guard.verifier import QuoteVerifier
from rag.domain.clock import Clock
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.events import Channel, Event
from rag.domain.trust import TrustStatus
from rag.domain.types import Asker, AskResult, RecordKind, SearchHit, SearchResult
from rag.ports import ChatModel, Embedder, RecordSearch, Vectors
from rag.ports.events import EventSink
from rag.retrieval.decision import Signals, split
from rag.retrieval.evidence import CardEvidence, chunk_body
from rag.retrieval.refusals import refuse
from rag.retrieval.retriever import Calibration, Retriever
from rag.services.answerer import Answerer
from rag.services.drafting import draft_reply
from rag.services.drafts import Draft
from rag.services.events.builders import Context, ask_event, check_event, draft_event, search_event
from rag.services.question import AskPolicy, Decision, Prepared
from rag.services.streaming import AskStream, stream_answer

__all__ = ["AskPolicy", "Verity"]  # AskPolicy (rag/services/question.py) is the policy a Verity is built with

MAX_SEARCH_SNIPPET_CHARS = 300
log = logging.getLogger("verity.events")


class Verity:
    def __init__(
        self,
        index: RecordSearch,
        embedder: Embedder,
        clock: Clock,
        policy: AskPolicy,
        chat: ChatModel | None,
        calibration: Calibration,
        recorder: EventSink | None = None,
        channel: Channel = Channel.HTTP,
    ) -> None:
        """`calibration`: rag/bootstrap.py `build_calibration` (or `Calibration.uncalibrated()`, said out loud):
        never a silent default, so no caller ranks and decides without centroids by forgetting it.
        `recorder`: where each ask, draft, search and check is recorded (rag/services/events/recording.py), as
        coming through `channel`; None records nothing."""
        self._index = index
        self._embedder = embedder
        self._clock = clock
        self.policy = policy
        self._chat = chat
        self.calibration = calibration
        self._retriever = Retriever(index, calibration, policy.retrieval)
        # the guard embeds the same card sentences for every answer and every sentence of a checked reply
        self._guard_embedder = RememberingEmbedder(embedder)
        self._guard = Guard(self._guard_embedder, policy.guard)
        self._verifier = QuoteVerifier(chat, self._guard) if chat is not None and policy.verify_quotes else None
        self._answerer = Answerer(policy, chat, self._guard, self._verifier)
        self._recorder = recorder
        self._channel = channel

    def with_policy(self, policy: AskPolicy) -> Verity:
        """The same index, embedder, clock, chat model and calibration under another policy (evals, benchmarks)."""
        return Verity(
            self._index,
            self._embedder,
            self._clock,
            policy,
            self._chat,
            self.calibration,
            self._recorder,
            self._channel,
        )

    def recording(self, recorder: EventSink | None, channel: Channel) -> Verity:
        """The same Verity, recording what is asked through `channel` (the app: HTTP, its MCP tools: MCP)."""
        return Verity(
            self._index, self._embedder, self._clock, self.policy, self._chat, self.calibration, recorder, channel
        )

    def _context(self, question: str, asker: Asker, vector: Vectors | None) -> Context:
        return Context(asker, self._channel, question, self.calibration.identify(question), vector)

    def _record(self, event: Callable[[], Event]) -> None:
        """Hand the event to the recorder, if any; building it must not fail an answer either."""
        if self._recorder is None:
            return
        try:
            self._recorder.record(event())
        except Exception:  # a recording defect is logged, never an error for the asker
            log.exception("cannot record an event")

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

    def _decide(self, question: str, asker: Asker, top_k: int | None, message: bool = False) -> Prepared:
        """`message`: a customer's message (reply drafts), which may be longer than a question."""
        question = self._check_text(question, "message" if message else "question")
        k = self._top_k(top_k)
        now = self._clock.now()
        started = time.perf_counter()
        # the limited embedder (rag/services/limits.py) takes messages under their own, longer limit
        embed_message = getattr(self._embedder, "embed_message", None) if message else None
        vector = embed_message(question) if embed_message is not None else self._embedder.embed_query(question)
        embedded = time.perf_counter()
        trusted, untrusted = self.rank_cards(question, vector, asker, now, k)
        retrieved = time.perf_counter()
        timings = {"embed_ms": (embedded - started) * 1000, "retrieve_ms": (retrieved - embedded) * 1000}
        answer_from, refuse_with = split(trusted, untrusted, self.policy.decision)
        return Prepared(question, now, started, timings, Decision(answer_from, refuse_with), vector)

    def ask(self, question: str, asker: Asker, top_k: int | None = None) -> AskResult:
        p = self._decide(question, asker, top_k)
        if not p.decision.answer_from:
            result = p.result(refusal=refuse(p.decision.refuse_with))
        else:
            answer, refused = self._answerer.answer(p.question, p.decision.answer_from, p.timings)
            result = p.result(answer=answer, refusal=refused)
        self._record(lambda: ask_event(self._context(p.question, asker, p.vector), result))
        return result

    def ask_stream(self, question: str, asker: Asker, top_k: int | None = None) -> AskStream:
        """`ask`, as events: kept sentences as they are judged, dropped ones, then the whole result.

        Everything that can fail before the first event fails here, before a response starts: a bad
        question, a store that is down, and a chat model that is down (its first token is awaited here;
        then the extractive answer or LLM_UNAVAILABLE, as `ask` does)."""
        p = self._decide(question, asker, top_k)
        context = self._context(p.question, asker, p.vector) if self._recorder is not None else None

        def record(result: AskResult) -> None:
            if context is not None:
                self._record(lambda: ask_event(context, result))

        return stream_answer(p, self._answerer).then(record)

    def draft_reply(self, message: str, asker: Asker, context: str | None = None, top_k: int | None = None) -> Draft:
        """A reply to a customer message, in the customer's language, from verified cards that are not
        internal-only; or a holding reply and what a human must decide (rag/services/drafting.py)."""
        if context is not None:
            context = self._check_text(context, "ticket context") if context.strip() else None
        p = self._decide(message, asker, top_k, message=True)
        draft = draft_reply(p, context, self._answerer)
        self._record(lambda: draft_event(self._context(p.question, asker, p.vector), p.now, draft))
        return draft

    def rank_cards(
        self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int
    ) -> tuple[list[CardEvidence], list[CardEvidence]]:
        """Trusted and untrusted cards for an embedded question, best first, each with its confidence (what
        `ask` decides on; rag/retrieval/retriever.py)."""
        return self._retriever.rank_cards(text, vector, asker, now, k)

    def signal_table(
        self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int
    ) -> tuple[list[CardEvidence], list[dict[int, Signals]]]:
        """Every retrieved card with the signals of its quotable records (what evals/calibrate/ fits on)."""
        return self._retriever.signal_table(text, vector, asker, now, k)

    def check_reply(self, text: str, asker: Asker, top_k: int | None = None) -> CheckResult:
        """Each sentence of a reply someone wrote (any language; `[n]` markers in it are ignored): supported by
        the verified cards the asker may see, not supported by them, or not covered by any (rag/answering/checking.py).

        Every sentence is embedded in one batch (under the message limit of rag/services/limits.py for all of them), its
        cards ranked as for a question (`rank_cards`); only cards verified now are kept, so an unverified or
        expired card never supports a sentence and never shows. The sentence is covered when one of them
        reaches `answer_confidence`, the bar `/v1/ask` answers by; the citation guard then checks it against
        those cards, as it checks a generated answer that cites all of them."""
        reply = self._check_text(text, "reply")
        k = self._top_k(top_k)
        sentences = reply_sentences(reply)
        now = self._clock.now()
        started = time.perf_counter()
        claims = [s.claim for s in sentences]
        # the limited embedder (rag/services/limits.py) takes a reply's sentences under the message limit, in one batch
        embed_sentences = getattr(self._embedder, "embed_sentences", None)
        vectors = embed_sentences(claims) if embed_sentences is not None else self._embedder.embed_queries(claims)
        self._guard_embedder.remember_queries(claims, vectors)
        embedded = time.perf_counter()
        found = [self.rank_cards(c, v, asker, now, k)[0] for c, v in zip(claims, vectors, strict=True)]
        retrieved = time.perf_counter()
        checks = tuple(self._check_sentence(s, cards) for s, cards in zip(sentences, found, strict=True))
        done = time.perf_counter()
        timings = {
            "embed_ms": (embedded - started) * 1000,
            "retrieve_ms": (retrieved - embedded) * 1000,
            "check_ms": (done - retrieved) * 1000,
            "total_ms": (done - started) * 1000,
        }
        result = CheckResult(now, checks, timings)
        self._record(lambda: check_event(self._context(reply, asker, None), result))
        return result

    def _check_sentence(self, sentence: ReplySentence, trusted: Sequence[CardEvidence]) -> SentenceCheck:
        """One sentence against the verified cards ranked for it (`trusted`: verified now, visible)."""
        relevant = [c for c in trusted if c.confidence >= self.policy.answer_confidence]
        if not relevant:
            return not_covered(sentence)
        evidence = prompt_evidence(relevant, self.policy.tokens_per_card)
        prepared = self._guard.prepare([GuardEvidence(e.marker, e.card.facts.card_id, e.text) for e in evidence])
        markers = tuple(e.marker for e in evidence)
        verdict = self._guard.check_claim(sentence.claim, sentence.claim, markers, prepared)
        if self._verifier is not None and verdict.ok:  # the model quotes the words behind it, checked
            verdict = self._verifier.verify([verdict], prepared)[0]
        more: tuple[tuple[int, str], ...] = ()
        internal = {e.marker for e in evidence if e.card.facts.internal_only}
        shareable = tuple(m for m in markers if m not in internal)
        if verdict.ok and shareable and verdict.evidence and all(m in internal for m, _ in verdict.evidence):
            # an internal note supports it best: a card that may be quoted to a customer may support it too
            again = self._guard.check_claim(sentence.claim, sentence.claim, shareable, prepared)
            more = again.evidence if again.ok else ()
        return judged(sentence, verdict, evidence, more)

    def search(self, query: str, asker: Asker, top_k: int | None = None) -> SearchResult:
        query = self._check_text(query, "query")
        k = self._top_k(top_k)
        now = self._clock.now()
        vector = self._embedder.embed_query(query)
        cards = self._retriever.judged_cards(query, vector, asker, now, k)[:k]
        hits = tuple(
            SearchHit(
                facts=c.facts,
                trust=c.trust,
                rank_score=round(c.rank_score, 4),
                snippet=_snippet(c) if c.trust is TrustStatus.VERIFIED else None,
                relevance=round(c.confidence, 4),
            )
            for c in cards
        )
        result = SearchResult(query=query, as_of=now, hits=hits)
        self._record(lambda: search_event(self._context(query, asker, None), result))
        return result


def _snippet(card: CardEvidence) -> str:
    best = card.evidence[0]
    text = chunk_body(best.text, card.facts.title) if best.kind is RecordKind.CHUNK else best.text
    return text[:MAX_SEARCH_SNIPPET_CHARS]
