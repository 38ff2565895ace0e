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
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rag.answering.checking import CheckResult, ReplySentence, SentenceCheck, judged, not_covered, reply_sentences
from rag.answering.extractive import ExtractivePolicy, compose_answer, fallback_sentences, select_sentences
from rag.answering.generation import Judged, PromptEvidence, ReplyGuard, build_messages, judge, prompt_evidence
from rag.answering.guard.core import Guard, GuardEvidence, GuardPolicy
from rag.answering.guard.embed_cache import RememberingEmbedder
from rag.answering.guard.verifier import QuoteVerifier
from rag.config import GuardVerifier, LlmFailure, LlmUnsupported, default_of
from rag.domain.clock import Clock
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.trust import TrustStatus
from rag.domain.types import (
    Answer,
    Asker,
    AskResult,
    Candidate,
    Citation,
    DroppedSentence,
    RecordKind,
    Refusal,
    RefusalReason,
    SearchHit,
    SearchResult,
)
from rag.ports import ChatModel, Embedder, RecordSearch, Vectors
from rag.retrieval.decision import DecisionPolicy, Signals, split
from rag.retrieval.evidence import CardEvidence, chunk_body
from rag.retrieval.refusals import refuse
from rag.retrieval.retriever import Calibration, RetrievalPolicy, Retriever
from rag.services.drafts import (
    DECISIONS,
    CardRef,
    Draft,
    HumanDecision,
    NeedsHuman,
    build_draft_messages,
    compose_reply,
    detect_language,
    strip_markers,
)
from rag.services.streaming import AskEvent, AskStream, ResultEvent, TextEvent, closer, dropped_event

MAX_SEARCH_SNIPPET_CHARS = 300
log = logging.getLogger("verity")

INSUFFICIENT_MESSAGE = (
    "The verified cards found do not answer this question. Ask the owner of the closest card, "
    "or write a new card for it."
)
UNSUPPORTED_MESSAGE = (
    "The generated answer was not supported by the verified cards it cited, so it was withheld; "
    "the rejected sentences are listed. Check the cards or ask their owner."
)


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


class Verity:
    def __init__(
        self,
        index: RecordSearch,
        embedder: Embedder,
        clock: Clock,
        policy: AskPolicy,
        chat: ChatModel | None,
        calibration: Calibration,
    ) -> None:
        """`calibration`: rag/bootstrap.py `build_calibration` (or `Calibration.uncalibrated()`, said out loud):
        never a silent default, so no caller ranks and decides without centroids by forgetting it."""
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

    def with_policy(self, policy: AskPolicy) -> Verity:
        """The same index, embedder, clock, chat model and calibration under another policy (evals, benchmarks)."""
        return Verity(self._index, self._embedder, self._clock, policy, self._chat, self.calibration)

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

    def _decide(self, question: str, asker: Asker, top_k: int | None, message: bool = False) -> _Prepared:
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
        return _Prepared(question, now, started, timings, Decision(answer_from, refuse_with))

    def ask(self, question: str, asker: Asker, top_k: int | None = None) -> AskResult:
        p = self._decide(question, asker, top_k)
        if not p.decision.answer_from:
            return p.result(refusal=refuse(p.decision.refuse_with))
        if self._chat is None:
            return p.result(answer=self._answer(p.decision.answer_from))
        answer, refused = self._generate(p.question, p.decision.answer_from, p.timings)
        return p.result(answer=answer, refusal=refused)

    def ask_stream(self, question: str, asker: Asker, top_k: int | None = None) -> AskStream:
        """`ask`, as events: kept sentences as they are judged, dropped ones, then the whole result.

        Everything that can fail before the first event fails here, before a response starts: a bad
        question, a store that is down, and a chat model that is down (its first token is awaited here;
        then the extractive answer or LLM_UNAVAILABLE, as `ask` does)."""
        p = self._decide(question, asker, top_k)
        if not p.decision.answer_from:
            return AskStream(iter([ResultEvent(p.result(refusal=refuse(p.decision.refuse_with)))]))
        if self._chat is None:
            return AskStream(_answer_events(p, self._answer(p.decision.answer_from)))
        evidence = prompt_evidence(p.decision.answer_from, self.policy.tokens_per_card)
        asked = time.perf_counter()
        try:
            deltas = self._chat.stream(build_messages(p.question, evidence))
            first = next(deltas, "")
        except VerityError as exc:
            self._model_failed(exc, p.timings, "answering")
            return AskStream(_answer_events(p, self._answer(p.decision.answer_from)))
        p.timings["first_token_ms"] = (time.perf_counter() - p.started) * 1000
        p.timings["model_first_token_ms"] = (time.perf_counter() - asked) * 1000
        cancelled = threading.Event()
        events = self._generated_events(p, evidence, first, deltas, cancelled)
        return AskStream(events, on_close=closer(deltas), cancelled=cancelled)

    def _generated_events(
        self,
        p: _Prepared,
        evidence: list[PromptEvidence],
        first: str,
        deltas: Iterator[str],
        cancelled: threading.Event,
    ) -> Iterator[AskEvent]:
        replies = ReplyGuard(evidence, self._guard, self.policy.unsupported, self._verifier)
        drop = self.policy.unsupported is LlmUnsupported.DROP
        asked = time.perf_counter()
        try:
            for delta in itertools.chain([first], deltas):
                if cancelled.is_set():  # the client went away: stop reading, the model's connection closes
                    p.timings["cancelled"] = 1.0
                    return
                for v in replies.feed(delta):
                    if not v.ok:
                        yield dropped_event(v)
                    elif drop:  # under REFUSE, passed sentences wait for the whole reply
                        yield TextEvent(v.sentence)
            fresh, judged = replies.finish()
        finally:
            closer(deltas)()
        p.timings["generate_ms"] = (time.perf_counter() - asked) * 1000
        for v in fresh:
            if v.ok and drop:
                yield TextEvent(v.sentence)
            elif not v.ok:
                yield dropped_event(v)
        if judged.answer is not None:
            if not drop:
                for s in judged.verdicts:
                    yield TextEvent(s.sentence)
            yield ResultEvent(p.result(answer=judged.answer))
            return
        message = INSUFFICIENT_MESSAGE if judged.insufficient else UNSUPPORTED_MESSAGE
        yield ResultEvent(p.result(refusal=Refusal(RefusalReason.NO_EVIDENCE, message, (), judged.dropped)))

    def _generate(
        self, question: str, cards: Sequence[CardEvidence], timings: dict[str, float]
    ) -> tuple[Answer | None, Refusal | None]:
        """The chat model answers from the verified cards only; the guard decides what of it is kept."""
        evidence = prompt_evidence(cards, self.policy.tokens_per_card)
        judged = self._complete_and_judge(build_messages(question, evidence), evidence, timings, "answering")
        if judged is None:
            return self._answer(cards), None
        if judged.answer is not None:
            return judged.answer, None
        message = INSUFFICIENT_MESSAGE if judged.insufficient else UNSUPPORTED_MESSAGE
        return None, Refusal(RefusalReason.NO_EVIDENCE, message, (), judged.dropped)

    def draft_reply(self, message: str, asker: Asker, context: str | None = None, top_k: int | None = None) -> Draft:
        """A reply to a customer message, in the customer's language, from verified cards that are not
        internal-only; or a holding reply and what a human must decide (rag/services/drafts.py)."""
        if context is not None:
            context = self._check_text(context, "ticket context") if context.strip() else None
        p = self._decide(message, asker, top_k, message=True)
        language = detect_language(p.question)
        if not p.decision.answer_from:
            refusal = refuse(p.decision.refuse_with)
            refs = tuple(_candidate_ref(c) for c in refusal.candidates)
            return _draft(p, language, (), HumanDecision.refused(refusal.reason), refs)
        shareable = [c for c in p.decision.answer_from if not c.facts.internal_only]
        internal = tuple(_card_ref(c) for c in p.decision.answer_from if c.facts.internal_only)
        if not shareable:
            return _draft(p, language, (), HumanDecision.INTERNAL_ONLY, internal)
        answer: Answer | None
        dropped: tuple[DroppedSentence, ...] = ()
        generated = False
        if self._chat is None:
            answer = self._answer(shareable)
        else:
            answer, dropped, insufficient, generated = self._generate_draft(p, shareable, context, language)
            if answer is None:
                decision = HumanDecision.NO_EVIDENCE
                why = INSUFFICIENT_MESSAGE if insufficient else UNSUPPORTED_MESSAGE
                attempted = (*(_card_ref(c) for c in shareable), *internal)
                return _draft(p, language, (), decision, attempted, dropped=dropped, message=why)
        body = tuple(strip_markers(s.text) for s in answer.sentences)
        # extractive (no model, or the model failed): the cards are quoted, not translated
        notes = [] if generated else list(_language_notes(language, shareable, answer.citations))
        if internal:
            notes.append(
                "Internal notes also matched (" + ", ".join(r.title for r in internal) + "); nothing from them "
                "is in the reply."
            )
        return _draft(p, language, body, None, (), cards=answer.citations, dropped=dropped, notes=tuple(notes))

    def _generate_draft(
        self, p: _Prepared, cards: Sequence[CardEvidence], context: str | None, language: str
    ) -> tuple[Answer | None, tuple[DroppedSentence, ...], bool, bool]:
        """(answer, dropped sentences, the model said the evidence is insufficient, the model wrote it)."""
        evidence = prompt_evidence(cards, self.policy.tokens_per_card)
        messages = build_draft_messages(p.question, context, language, evidence)
        judged = self._complete_and_judge(messages, evidence, p.timings, "drafting")
        if judged is None:
            return self._answer(cards), (), False, False
        return judged.answer, judged.dropped, judged.insufficient, True

    def _complete_and_judge(
        self, messages: list[dict[str, str]], evidence: list[PromptEvidence], timings: dict[str, float], doing: str
    ) -> Judged | None:
        """The model's whole reply, guarded; None when the model failed and Verity answers extractively."""
        assert self._chat is not None
        started = time.perf_counter()
        try:
            reply = self._chat.complete(messages)
        except VerityError as exc:
            self._model_failed(exc, timings, doing)
            return None
        generated = time.perf_counter()
        timings["generate_ms"] = (generated - started) * 1000
        judged = judge(reply, evidence, self._guard, self.policy.unsupported, self._verifier)
        timings["guard_ms"] = (time.perf_counter() - generated) * 1000
        return judged

    def _model_failed(self, exc: VerityError, timings: dict[str, float], doing: str) -> None:
        """The chat model failed after its retries: raise it again (VERITY_LLM_ON_FAILURE=error, or not a model
        failure), or note it (`llm_failed` in the timings) for the caller to answer extractively."""
        if exc.code is not ErrorCode.LLM_UNAVAILABLE or not self.policy.llm_fallback:
            raise exc
        log.warning("chat model failed, %s extractively: %s", doing, exc.message)
        timings["llm_failed"] = 1.0

    def rank_cards(
        self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int
    ) -> tuple[list[CardEvidence], list[CardEvidence]]:
        """Trusted and untrusted cards for an embedded question, best first, each with its confidence (what
        `ask` decides on; rag/retrieval/retriever.py)."""
        return self._retriever.rank_cards(text, vector, asker, now, k)

    def signal_table(
        self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int
    ) -> tuple[list[CardEvidence], list[dict[int, Signals]]]:
        """Every retrieved card with the signals of its quotable records (what evals/calibrate.py fits on)."""
        return self._retriever.signal_table(text, vector, asker, now, k)

    def _answer(self, cards: Sequence[CardEvidence]) -> Answer:
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
        return CheckResult(now, checks, timings)

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
        cards = self._retriever.judged_cards(query, self._embedder.embed_query(query), asker, now, k)[:k]
        hits = tuple(
            SearchHit(
                facts=c.facts,
                trust=c.trust,
                score=round(c.score, 4),
                snippet=_snippet(c) if c.trust is TrustStatus.VERIFIED else None,
                relevance=round(c.confidence, 4),
            )
            for c in cards
        )
        return SearchResult(query=query, as_of=now, hits=hits)


def _snippet(card: CardEvidence) -> str:
    best = card.evidence[0]
    text = chunk_body(best.text, card.facts.title) if best.kind is RecordKind.CHUNK else best.text
    return text[:MAX_SEARCH_SNIPPET_CHARS]


@dataclass(slots=True)
class _Prepared:
    """A question checked, embedded, ranked and decided on: what answering starts from."""

    question: str
    now: datetime
    started: float
    timings: dict[str, float]
    decision: Decision

    def result(self, answer: Answer | None = None, refusal: Refusal | None = None) -> AskResult:
        self.timings["total_ms"] = (time.perf_counter() - self.started) * 1000
        return AskResult(self.question, self.now, answer=answer, refusal=refusal, timings_ms=dict(self.timings))


def _answer_events(p: _Prepared, answer: Answer) -> Iterator[AskEvent]:
    for sentence in answer.sentences:
        yield TextEvent(f"{sentence.text} [{sentence.marker}]")
    yield ResultEvent(p.result(answer=answer))


def _draft(
    p: _Prepared,
    language: str,
    body: Sequence[str],
    decision: HumanDecision | None,
    refs: Sequence[CardRef],
    cards: Sequence[Citation] = (),
    dropped: Sequence[DroppedSentence] = (),
    notes: Sequence[str] = (),
    message: str | None = None,
) -> Draft:
    needs = None
    if decision is not None:
        why = DECISIONS[decision] if message is None else f"{DECISIONS[decision]} ({message})"
        needs = NeedsHuman(decision, why, tuple(refs))
    reply = compose_reply(language, body)
    p.timings["total_ms"] = (time.perf_counter() - p.started) * 1000
    return Draft(language, reply, tuple(cards), needs, tuple(dropped), tuple(notes), dict(p.timings))


def _card_ref(card: CardEvidence) -> CardRef:
    f = card.facts
    return CardRef(f.card_id, f.title, f.collection, f.url, f.owner, f.verifier, str(card.trust))


def _candidate_ref(c: Candidate) -> CardRef:
    return CardRef(c.card_id, c.title, "", c.url, c.owner, c.verifier, str(c.status))


def _language_notes(language: str, cards: Sequence[CardEvidence], cited: Sequence[Citation]) -> Iterator[str]:
    """The extractive draft quotes cards in their own language: say so when that is not the customer's."""
    languages = {c.facts.card_id: c.facts.language for c in cards}
    other = sorted({lang for c in cited if (lang := languages.get(c.card_id)) and lang != language})
    if other:
        yield (
            f"The customer wrote in {language}; the reply quotes cards written in {', '.join(other)}. "
            "Translate those sentences before sending."
        )
