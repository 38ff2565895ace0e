"""The embedded default answerer: verified sentences, copied verbatim, each followed by its marker.

Selection: the sentence closest to the question comes first (the shortest useful answer); further
sentences join only while they score within `margin` of the best one, up to `max_sentences`, and a
sentence never appears twice. Markers [n] are numbered by first appearance of each card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.sentences import normalise_space
from rag.config import default_of
from rag.domain.trust import TrustStatus, epoch_to_datetime
from rag.domain.types import Answer, AnswerSentence, Citation, Evidence, RecordKind
from rag.retrieval.evidence import CardEvidence, chunk_body

MAX_SNIPPET_CHARS = 600


@dataclass(frozen=True, slots=True)
class ExtractivePolicy:
    max_sentences: int = default_of("max_answer_sentences")
    margin: float = default_of("sentence_margin")


def select_sentences(sentences: Sequence[Evidence], policy: ExtractivePolicy) -> list[Evidence]:
    """Pure: pick the answer sentences from scored, verified sentence evidence."""
    ranked = sorted(sentences, key=lambda e: e.centred, reverse=True)
    if not ranked:
        return []
    floor = ranked[0].centred - policy.margin
    chosen: list[Evidence] = []
    seen: set[str] = set()
    for item in ranked:
        key = normalise_space(item.text).casefold()
        if item.centred < floor or len(chosen) >= policy.max_sentences:
            break
        if key not in seen:
            seen.add(key)
            chosen.append(item)
    return chosen


def compose_answer(chosen: Sequence[Evidence], cards: Sequence[CardEvidence]) -> Answer:
    """Pure: number the cards, write the answer text and the citations."""
    if any(e.trust is not TrustStatus.VERIFIED for e in chosen):
        raise ValueError("the extractive answerer only quotes verified evidence")
    markers: dict[str, int] = {}
    quoted: dict[str, list[Evidence]] = {}
    parts: list[AnswerSentence] = []
    for item in chosen:
        marker = markers.setdefault(item.facts.card_id, len(markers) + 1)
        quoted.setdefault(item.facts.card_id, []).append(item)
        parts.append(AnswerSentence(text=normalise_space(item.text), marker=marker))
    rank_score = {c.facts.card_id: c.rank_score for c in cards}
    relevance = {c.facts.card_id: c.confidence for c in cards}
    citations = tuple(
        Citation(
            marker=marker,
            card_id=card_id,
            title=quoted[card_id][0].facts.title,
            url=quoted[card_id][0].facts.url,
            collection=quoted[card_id][0].facts.collection,
            verifier=quoted[card_id][0].facts.verifier,
            verified_at=quoted[card_id][0].facts.verified_at,
            verified_until=epoch_to_datetime(quoted[card_id][0].facts.verified_until_epoch),
            snippet=" ".join(normalise_space(e.text) for e in quoted[card_id])[:MAX_SNIPPET_CHARS],
            rank_score=round(max(rank_score.get(card_id, 0.0), *(e.centred for e in quoted[card_id])), 4),
            relevance=round(relevance.get(card_id, 0.0), 4),
            internal_only=quoted[card_id][0].facts.internal_only,
        )
        for card_id, marker in markers.items()
    )
    text = " ".join(f"{p.text} [{p.marker}]" for p in parts)
    return Answer(text=text, sentences=tuple(parts), citations=citations)


def fallback_sentences(card: CardEvidence) -> list[Evidence]:
    """A card with no sentence records (a table, a list of fragments): quote its best chunk instead."""
    best = next((e for e in card.evidence if e.kind is RecordKind.CHUNK), card.evidence[0])
    body = chunk_body(best.text, card.facts.title)
    return [
        Evidence(
            record_id=best.record_id,
            kind=best.kind,
            text=body,
            centred=best.centred,
            facts=best.facts,
            trust=best.trust,
        )
    ]
