"""Fakes that implement the real ports (no mocks): a deterministic embedder and an in-memory index."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from rag.domain.cards import Card, CardState
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.events import Event
from rag.domain.types import Asker, CardFacts, RecordKind
from rag.ports import CardVersion, IndexRecord, Replacement, Scope, StoredHit, TrustFilter, Vectors
from rag.retrieval.centering import LanguageCentroids
from rag.retrieval.decision import SIGNAL_NAMES, DecisionModel, Judge, Scale
from rag.retrieval.lexical import LexicalIndex
from rag.retrieval.reference import Anchors
from rag.retrieval.retriever import Calibration
from tests.builders import facts_of

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Bag of words hashed into `dim` buckets: texts sharing words are close, others near-orthogonal."""

    def __init__(self, dim: int = 256, name: str = "fake-hash") -> None:
        self._dim = dim
        self._name = name
        self.calls: list[int] = []  # how many texts each embed_passages call got

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _one(self, text: str) -> Vectors:
        vector = np.zeros(self._dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dim
            vector[bucket] += 1.0 if digest[4] % 2 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_query(self, text: str) -> Vectors:
        return self._one(text)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self._dim), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self._dim), dtype=np.float32)


def plain_calibration(bar: float = 0.35, centroids: LanguageCentroids | None = None) -> Calibration:
    """For hand-made or hashed vectors: scores are plain cosines (anchors 0 and 1), and a card answers when
    the record judged reaches `bar` (a steep logistic on that one signal)."""
    steep = 60.0
    weights = tuple(steep if name == "record" else 0.0 for name in SIGNAL_NAMES)
    model = DecisionModel(weights, -steep * bar, lead_floor=0.0, answer_confidence=0.5, fitted_on="tests")
    judge = Judge(model, Scale(Anchors(1.0, 0.0, 1.0, 0.0)))
    return Calibration(centroids or LanguageCentroids({}), judge, lambda _text: None)


class InMemoryCardIndex:
    """The CardIndex port over a list, with the same visibility and trust semantics as the Chroma adapter."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[IndexRecord, Vectors, CardFacts]] = {}
        self.queries: list[Scope] = []
        self.cards: dict[str, Card] = {}
        self.versions: dict[str, CardVersion] = {}  # of each stored card, records or not

    def card_versions(self, card_ids: Sequence[str]) -> Mapping[str, CardVersion]:
        return {card_id: self.versions[card_id] for card_id in card_ids if card_id in self.versions}

    def replace_card(
        self,
        card: Card,
        version: CardVersion,
        records: Sequence[IndexRecord],
        vectors: Vectors,
        language: str | None = None,
    ) -> None:
        if len(records) != len(vectors):
            raise ValueError("one vector per record")
        facts = facts_of(card, version, language)
        self.cards[card.id] = card
        self.versions[card.id] = version
        new_ids = {record.record_id for record in records}
        for rid in [r for r, (_, _, f) in self.records.items() if f.card_id == card.id and r not in new_ids]:
            del self.records[rid]  # every record of an older version, as the Chroma adapter retires them
        for record, vector in zip(records, vectors, strict=True):
            self.records[record.record_id] = (record, vector, facts)

    def all_card_versions(self) -> dict[str, CardVersion]:
        return dict(self.card_versions(list(self.cards)))

    def cards_with_dead_records(self) -> set[str]:
        return set()  # writes here are instantaneous: nothing is ever left half-done

    def replace_cards(self, replacements: Sequence[Replacement]) -> None:
        if any(len(item.records) != len(item.vectors) for item in replacements):
            raise ValueError("one vector per record")  # before any write: no card of the batch is stored
        for item in replacements:
            self.replace_card(item.card, item.version, item.records, item.vectors, item.language)

    def update_card_facts(self, card: Card, version: CardVersion, language: str | None = None) -> None:
        if card.id not in self.versions:
            return  # not stored: nothing to update (the Chroma adapter finds no records to change)
        facts = facts_of(card, version, language)
        self.cards[card.id] = card
        self.versions[card.id] = version
        for rid, (record, vector, old) in list(self.records.items()):
            if old.card_id == card.id:
                self.records[rid] = (record, vector, facts)

    def delete_card(self, card_id: str) -> None:
        self.cards.pop(card_id, None)
        self.versions.pop(card_id, None)
        for rid in [r for r, (_, _, f) in self.records.items() if f.card_id == card_id]:
            del self.records[rid]

    def ping(self) -> None:
        return None

    def card_ids(self) -> set[str]:
        return set(self.cards)

    def get_card(self, card_id: str) -> Card | None:
        return self.cards.get(card_id)

    def get_visible_card(self, card_id: str, asker: Asker) -> Card | None:
        card = self.cards.get(card_id)
        return card if card is not None and (not card.groups or asker.groups.intersection(card.groups)) else None

    def lexical_index(self) -> LexicalIndex:
        chunks = [(rid, r.document) for rid, (r, _, _) in self.records.items() if r.kind is RecordKind.CHUNK]
        return LexicalIndex([rid for rid, _ in chunks], [text for _, text in chunks])

    def get_records(self, record_ids: Sequence[str], scope: Scope) -> list[StoredHit]:
        found = [self.records[rid] for rid in dict.fromkeys(record_ids) if rid in self.records]
        return [
            StoredHit(record.record_id, record.kind, record.document, 0.0, facts, vec)
            for record, vec, facts in found
            if self._in_scope(record, facts, scope)
        ]

    def list_cards(self, collection: str | None = None) -> Iterator[Card]:
        return iter([c for c in self.cards.values() if collection is None or c.collection == collection])

    def purge_dead(self, card_ids: Sequence[str] | None = None) -> None:
        return None  # writes here are instantaneous: nothing is ever left half-done

    def _in_scope(self, record: IndexRecord, facts: CardFacts, scope: Scope) -> bool:
        if scope.kind is not None and record.kind is not scope.kind:
            return False
        if not scope.asker.may_see(facts.groups):
            return False
        trusted = facts.state is CardState.VERIFIED and facts.verified_until_epoch > scope.now_epoch
        if scope.trust is TrustFilter.TRUSTED and not trusted:
            return False
        return scope.trust is not TrustFilter.UNTRUSTED or not trusted

    def query(self, vector: Vectors, scope: Scope, n_results: int) -> list[StoredHit]:
        self.queries.append(scope)
        hits = [
            StoredHit(record.record_id, record.kind, record.document, float(np.dot(vec, vector)), facts, vec)
            for record, vec, facts in self.records.values()
            if self._in_scope(record, facts, scope)
        ]
        return sorted(hits, key=lambda h: h.score, reverse=True)[:n_results]


__all__ = ["HashEmbedder", "InMemoryCardIndex", "ListEventSink", "RecordKind", "ScriptedChat"]


class ScriptedChat:
    """A chat model that answers from a script: a function of the messages, or an error to raise."""

    def __init__(
        self,
        reply: Callable[[str], str] | str = "",
        error: Exception | None = None,
        fail_after: int | None = None,
    ) -> None:
        self._reply = reply
        self._error = error
        self._fail_after = fail_after  # stream: raise LLM_UNAVAILABLE after this many deltas
        self.prompts: list[list[dict[str, str]]] = []
        self.pulled = 0  # deltas the caller read from the last stream
        self.closed = False  # the last stream was closed before its end

    @property
    def name(self) -> str:
        return "scripted"

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        self.prompts.append([dict(m) for m in messages])
        if self._error is not None:
            raise self._error
        user = messages[-1]["content"]
        return self._reply(user) if callable(self._reply) else self._reply

    def stream(self, messages: Sequence[Mapping[str, str]]) -> Iterator[str]:
        """The scripted reply a word at a time, as a model streams it."""
        reply = self.complete(messages)
        self.pulled, self.closed = 0, False
        deltas = re.findall(r"\S+\s*|\s+", reply)
        try:
            for delta in deltas:
                if self._fail_after is not None and self.pulled >= self._fail_after:
                    raise VerityError(ErrorCode.LLM_UNAVAILABLE, "the scripted model broke mid-stream")
                self.pulled += 1
                yield delta
        except GeneratorExit:
            self.closed = True
            raise


class ListEventSink:
    """An event sink (rag/ports/events.py) that keeps what it is handed, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event) -> None:
        self.events.append(event)
