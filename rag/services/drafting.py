"""Reply drafts, the use case: a customer message decided on as a question is answered from the verified cards
a customer may read, in the customer's language, or held for a human with the reason (the pure part, frames,
language and prompt, is rag/services/drafts.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from rag.answering.generation import prompt_evidence
from rag.domain.types import Answer, Candidate, Citation, DroppedSentence
from rag.retrieval.evidence import CardEvidence
from rag.retrieval.refusals import refuse
from rag.services.answerer import Answerer, withheld_message
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
from rag.services.question import Prepared


def draft_reply(p: Prepared, context: str | None, answerer: Answerer) -> Draft:
    """A reply to a customer message (`p`: decided on as a question), in the customer's language, from verified
    cards that are not internal-only; or a holding reply and what a human must decide (rag/services/drafts.py)."""
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
    if answerer.chat is None:
        answer = answerer.extractive(shareable)
    else:
        answer, dropped, why, generated = _generate_draft(p, shareable, context, language, answerer)
        if answer is None:
            decision = HumanDecision.NO_EVIDENCE
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
    p: Prepared, cards: Sequence[CardEvidence], context: str | None, language: str, answerer: Answerer
) -> tuple[Answer | None, tuple[DroppedSentence, ...], str, bool]:
    """(answer, dropped sentences, why nothing was kept, the model wrote it)."""
    evidence = prompt_evidence(cards, answerer.policy.tokens_per_card)
    messages = build_draft_messages(p.question, context, language, evidence)
    judged = answerer.complete_and_judge(messages, evidence, p.timings, "drafting")
    if judged is None:
        return answerer.extractive(cards), (), "", False
    return judged.answer, judged.dropped, withheld_message(judged), True


def _draft(
    p: Prepared,
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
    return CardRef(f.card_id, f.title, f.collection, f.url, f.owner, f.verifier, card.trust)


def _candidate_ref(c: Candidate) -> CardRef:
    return CardRef(c.card_id, c.title, "", c.url, c.owner, c.verifier, c.status)


def _language_notes(language: str, cards: Sequence[CardEvidence], cited: Sequence[Citation]) -> Iterator[str]:
    """The extractive draft quotes cards in their own language: say so when that is not the customer's."""
    languages = {c.facts.card_id: c.facts.language for c in cards}
    other = sorted({lang for c in cited if (lang := languages.get(c.card_id)) and lang != language})
    if other:
        yield (
            f"The customer wrote in {language}; the reply quotes cards written in {', '.join(other)}. "
            "Translate those sentences before sending."
        )
