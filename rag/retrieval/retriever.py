"""The retriever: from an embedded question to ranked cards, each with its confidence that it answers.

1. the question's language is identified (rag/retrieval/languages.py) and its vector centred by that
   language's reference centroid (rag/retrieval/centering.py); one store query returns the records of every
   trust class the asker may see (visibility is filtered in the store); the trust gate is applied to each
   record against `now`;
2. lexical candidates (BM25) and records holding the question's identifiers are fetched within the same
   scope;
3. cards are ranked by their best record (centred cosine, language-neutral affinity, lexical and exact
   identifier bonuses), and rag/retrieval/decision.py gives each card its confidence.

What to answer from is decided elsewhere (rag/retrieval/decision.py `split`, called by rag/services/ask.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rag.domain.trust import TrustStatus, trust_status
from rag.domain.types import Asker, Evidence, RecordKind
from rag.ports import RecordSearch, Scope, StoredHit, TrustFilter, Vectors
from rag.retrieval.centering import LanguageCentroids, PreparedQuery
from rag.retrieval.decision import DecisionModel, Judge, Signals
from rag.retrieval.evidence import CardEvidence, group_by_card, to_evidence
from rag.retrieval.lexical import identifiers

RECORDS_PER_CARD = 12  # records fetched per wanted card: chunks plus sentences
LEXICAL_PER_CARD = 4


@dataclass(frozen=True, slots=True)
class Calibration:
    """What makes scores mean the same everywhere: the embedder's reference centroids, the judge that turns
    scores into confidences, and the language identifier of questions (rag/bootstrap.py builds it)."""

    centroids: LanguageCentroids
    judge: Judge
    identify: Callable[[str], str | None]

    @classmethod
    def uncalibrated(cls, model: DecisionModel | None = None) -> Calibration:
        """No centroids, no language identification: the safe decision of rag/retrieval/decision.py."""
        return cls(LanguageCentroids({}), Judge(model or DecisionModel.bundled(), None), lambda _text: None)


@dataclass(frozen=True, slots=True)
class RetrievalPolicy:
    """The ranking knobs (their defaults, and their meaning, are the Settings' of the same names)."""

    lexical_weight: float  # 0 turns lexical retrieval off
    lexical_saturation: float  # BM25 score at which half of lexical_weight is added
    exact_term_weight: float  # added to a card that holds the question's identifiers ("E-4012"); 0: off
    affinity_weight: float  # weight of the language-neutral plain cosine; 0: centred cosine alone
    record_kind: RecordKind | None = None  # what dense retrieval compares: chunks, sentences, or both (None)


@dataclass(frozen=True, slots=True)
class Retrieved:
    evidence: list[Evidence]
    boost: dict[str, float]  # card id -> lexical bonus added to the card's score
    identifier_share: dict[str, float]  # card id -> share of the question's identifiers it holds
    identifiers: list[str]  # the question's identifiers
    language: str | None  # the language the question was centred by


class Retriever:
    def __init__(self, index: RecordSearch, calibration: Calibration, policy: RetrievalPolicy) -> None:
        self._index = index
        self.calibration = calibration
        self.policy = policy

    def retrieve(self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int) -> Retrieved:
        """Dense candidates of any trust the asker may see, plus lexical ones fetched within the same scope,
        re-scored.

        Dense: language-centred cosine of each record. Lexical: BM25 of the card's best chunk, saturated
        as w * s / (s + saturation) and added to the card's score: a question that shares no words with
        any card (another language) gets ~0 everywhere instead of rank-based noise, so lexical matching
        cannot lower cross-language recall. Exact terms: a card whose record holds the question's
        identifiers ("E-4012") gets exact_term_weight times the share of them it holds; identifiers read
        the same in every language, and look-alike codes ("E-7121", "E-7130") confuse the dense model.
        """
        centroids = self.calibration.centroids
        query = centroids.prepare_query(vector, self.calibration.identify(text))
        now_epoch = int(now.timestamp())
        hits = self._dense(query, asker, now, k)
        terms = identifiers(text) if self.policy.exact_term_weight > 0 else []
        lexical_scores: dict[str, float] = {}
        held: dict[str, int] = {}  # record id -> how many of the question's identifiers it holds
        if self.policy.lexical_weight > 0 or terms:
            lexical = self._index.lexical_index()
            if self.policy.lexical_weight > 0:
                lexical_scores = {h.record_id: h.score for h in lexical.search(text, k * LEXICAL_PER_CARD)}
            for term in terms:
                for record_id in lexical.holders(term, k * LEXICAL_PER_CARD):
                    held[record_id] = held.get(record_id, 0) + 1
            have = {h.record_id for h in hits}
            missing = [rid for rid in dict.fromkeys([*lexical_scores, *held]) if rid not in have]
            hits += self._index.get_records(missing, Scope(asker, now_epoch, TrustFilter.ANY))
        evidence = to_evidence(hits, asker, now, centroids, query, self.policy.affinity_weight)
        return self._boosted(evidence, lexical_scores, held, terms, query.language)

    def _dense(self, query: PreparedQuery, asker: Asker, now: datetime, k: int) -> list[StoredHit]:
        """One store query for every trust class: Chroma's cost is its metadata filter, not the vector search,
        so two queries (trusted, untrusted) cost twice one. Untrusted records could crowd trusted ones out of a
        full result: then (and only then) the trusted records are queried on their own."""
        now_epoch = int(now.timestamp())
        wanted = 2 * k * RECORDS_PER_CARD
        kind = self.policy.record_kind
        hits = self._index.query(query.candidate, Scope(asker, now_epoch, TrustFilter.ANY, kind=kind), wanted)
        if len(hits) >= wanted:
            trusted_cards = {
                h.facts.card_id
                for h in hits
                if trust_status(h.facts.state, h.facts.verified_until_epoch, now) is TrustStatus.VERIFIED
            }
            if len(trusted_cards) < k:
                seen = {h.record_id for h in hits}
                more = self._index.query(
                    query.candidate, Scope(asker, now_epoch, TrustFilter.TRUSTED, kind=kind), k * RECORDS_PER_CARD
                )
                hits += [h for h in more if h.record_id not in seen]
        return hits

    def _boosted(
        self,
        evidence: list[Evidence],
        lexical_scores: dict[str, float],
        held: dict[str, int],
        terms: list[str],
        language: str | None,
    ) -> Retrieved:
        """The lexical and exact-identifier bonus of each card: the best of its records'."""
        lexical_boost: dict[str, float] = {}
        exact_boost: dict[str, float] = {}
        saturation = self.policy.lexical_saturation
        for e in evidence:
            card_id = e.facts.card_id
            if e.record_id in lexical_scores:
                s = lexical_scores[e.record_id]
                share = self.policy.lexical_weight * s / (s + saturation)
                lexical_boost[card_id] = max(lexical_boost.get(card_id, 0.0), share)
            if e.record_id in held:
                share = self.policy.exact_term_weight * held[e.record_id] / len(terms)
                exact_boost[card_id] = max(exact_boost.get(card_id, 0.0), share)
        boost = {c: lexical_boost.get(c, 0.0) + exact_boost.get(c, 0.0) for c in {*lexical_boost, *exact_boost}}
        shares = {c: b / self.policy.exact_term_weight for c, b in exact_boost.items()}
        return Retrieved(evidence, boost, shares, terms, language)

    def judged_cards(self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int) -> list[CardEvidence]:
        """Every retrieved card, ranked, with its confidence: leads are measured among all cards the asker may
        see, trusted or not, never against a card hidden from them."""
        found = self.retrieve(text, vector, asker, now, k)
        cards = group_by_card(found.evidence, None, found.boost, found.identifier_share)
        return self.calibration.judge.judge(cards, found.language, found.identifiers)

    def rank_cards(
        self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int
    ) -> tuple[list[CardEvidence], list[CardEvidence]]:
        """Trusted and untrusted cards for an embedded question, best first, each with its confidence."""
        cards = self.judged_cards(text, vector, asker, now, k)
        # defence in depth: trust is decided again here, from the clock, whatever the store filtered
        trusted = [c for c in cards if c.trust is TrustStatus.VERIFIED][:k]
        untrusted = [c for c in cards if c.trust is not TrustStatus.VERIFIED][:k]
        return trusted, untrusted

    def signal_table(
        self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int
    ) -> tuple[list[CardEvidence], list[dict[int, Signals]]]:
        """Every retrieved card, ranked, with the signals of its quotable records (evals/calibrate/ fits the
        decision model on exactly what `ask` computes)."""
        found = self.retrieve(text, vector, asker, now, k)
        cards = group_by_card(found.evidence, None, found.boost, found.identifier_share)
        return cards, self.calibration.judge.table(cards, found.language)
