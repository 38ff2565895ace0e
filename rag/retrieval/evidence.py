"""From store hits to Evidence: the trust of every hit is decided again here, at query time.

The store query already filters by visibility and trust; this second look is defence in depth, so a
store or filter bug can never put an untrusted or invisible card into an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from rag.domain.trust import TrustStatus, trust_status
from rag.domain.types import Asker, CardFacts, Evidence
from rag.ports import StoredHit
from rag.retrieval.centering import LanguageCentroids, PreparedQuery


def visible_to(facts: CardFacts, asker: Asker) -> bool:
    return asker.may_see(facts.groups)


def to_evidence(
    hits: Sequence[StoredHit],
    asker: Asker,
    now: datetime,
    centroids: LanguageCentroids,
    query: PreparedQuery,
    affinity_weight: float,
) -> list[Evidence]:
    """Visible hits, re-scored by language-centred cosine, with their trust at `now`.

    `affinity_weight` > 0 adds the language-neutral plain cosine (LanguageCentroids.affinity) to the
    ranking, not to the score relevance is judged on: centring removes the language bias but also some
    of what the raw vectors know; the two views ranked together beat either alone (see README, Retrieval).
    """
    visible = [hit for hit in hits if visible_to(hit.facts, asker)]
    if not visible:
        return []
    vectors = np.stack([h.vector for h in visible])
    languages = centroids.passage_languages(vectors, [h.facts.language for h in visible])
    scores = centroids.centre(vectors, languages) @ query.centred
    neutral = centroids.affinity(query, vectors, languages)
    return [
        Evidence(
            record_id=hit.record_id,
            kind=hit.kind,
            text=hit.document,
            centred=float(score),
            facts=hit.facts,
            trust=trust_status(hit.facts.state, hit.facts.verified_until_epoch, now),
            affinity=affinity_weight * float(plain),
            neutral=float(plain),
            language=language,
        )
        for hit, score, plain, language in zip(visible, scores, neutral, languages, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class CardEvidence:
    """All evidence of one card, best ranked first; the card's rank score is its best record's."""

    facts: CardFacts
    trust: TrustStatus
    rank_score: float  # best record's rank score (centred cosine + affinity) plus the lexical boost
    evidence: tuple[Evidence, ...]
    dense_score: float = 0.0  # best language-centred cosine of its records alone
    boost: float = 0.0  # the lexical and exact-identifier bonus in `rank_score`
    identifier_share: float = 0.0  # share of the question's identifiers ("E-4012") the card holds
    # that the card answers the question (rag/retrieval/decision.py): its best quotable record's
    confidence: float = 0.0
    record_confidences: tuple[float, ...] = ()  # per record of `evidence`; 0 for records that are not quoted


def group_by_card(
    evidence: Iterable[Evidence],
    limit: int | None = None,
    boost: Mapping[str, float] | None = None,
    identifier_share: Mapping[str, float] | None = None,
) -> list[CardEvidence]:
    """Cards ranked by their best record's rank score plus the card's `boost` (the lexical signal)."""
    grouped: dict[str, list[Evidence]] = {}
    for item in sorted(evidence, key=lambda e: e.rank_score, reverse=True):
        grouped.setdefault(item.facts.card_id, []).append(item)
    extra = boost or {}
    shares = identifier_share or {}
    cards = [
        CardEvidence(
            facts=items[0].facts,
            trust=items[0].trust,
            rank_score=items[0].rank_score + extra.get(card_id, 0.0),
            evidence=tuple(items),
            dense_score=max(e.centred for e in items),
            boost=extra.get(card_id, 0.0),
            identifier_share=shares.get(card_id, 0.0),
        )
        for card_id, items in grouped.items()
    ]
    return sorted(cards, key=lambda c: c.rank_score, reverse=True)[:limit]


def chunk_body(chunk_text: str, title: str) -> str:
    """A chunk without the title line the chunker put in front of it."""
    head, sep, rest = chunk_text.partition("\n\n")
    return rest if sep and title.startswith(head.rstrip("…")) else chunk_text
