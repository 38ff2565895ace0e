"""The Chroma adapter of the CardIndex port: embedded (PersistentClient) or a server (HttpClient).

Its parts: collection.py (the client, opening the collection), calls.py (deadlines), records.py (metadata,
scope filters, hits), lexical.py (BM25 kept current)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
from chromadb.api import ClientAPI

from rag.adapters.chroma.calls import GuardedCollection, StoreCalls
from rag.adapters.chroma.collection import SCHEMA_VERSION, open_collection
from rag.adapters.chroma.lexical import CollectionLexicon
from rag.adapters.chroma.records import card_metadata, scope_admits, scope_filter, to_hits, version_of, visible_to
from rag.domain.cards import Card
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker, RecordKind
from rag.ports import CardVersion, IndexRecord, Replacement, Scope, StoredHit, Vectors
from rag.retrieval.lexical import LexicalIndex

log = logging.getLogger("verity")

WRITE_BATCH = 1_000  # records per upsert call


class ChromaCardIndex:
    def __init__(
        self,
        client: ClientAPI,
        name: str,
        embedder_name: str,
        dim: int,
        lexical_ttl_s: float = 2.0,
        timeout_s: float = 5.0,
    ) -> None:
        self._client = client
        self._dim = dim
        self._calls = StoreCalls(timeout_s)
        self._collection = GuardedCollection(
            open_collection(client, self._calls, name, embedder_name, dim), self._calls
        )
        metadata = {"embedder": embedder_name, "dim": dim, "schema_version": SCHEMA_VERSION}
        self._lexical = CollectionLexicon(client, name, self._collection, self._calls, metadata, lexical_ttl_s)

    def ping(self) -> None:
        try:
            self._calls.read("heartbeat", self._client.heartbeat)
        except VerityError as exc:
            raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"the Chroma store does not answer: {exc.message}") from exc

    def card_versions(self, card_ids: Sequence[str]) -> Mapping[str, CardVersion]:
        if not card_ids:
            return {}
        where: Any = {"$and": [{"card_id": {"$in": list(card_ids)}}, {"kind": RecordKind.CARD.value}, {"live": True}]}
        got = self._collection.get(where=where, include=["metadatas"])
        return {str(meta["card_id"]): version_of(meta) for meta in got["metadatas"] or []}

    def _paged_metadatas(self, where: Any) -> Iterator[Mapping[str, Any]]:
        for page in self._collection.pages(where, ["metadatas"]):
            yield from page["metadatas"] or []

    def all_card_versions(self) -> dict[str, CardVersion]:
        where: Any = {"$and": [{"kind": RecordKind.CARD.value}, {"live": True}]}
        return {str(m["card_id"]): version_of(m) for m in self._paged_metadatas(where)}

    def cards_with_dead_records(self) -> set[str]:
        return {str(m["card_id"]) for m in self._paged_metadatas({"live": False})}

    def replace_card(self, card: Card, version: CardVersion, records: Sequence[IndexRecord], vectors: Vectors) -> None:
        self.replace_cards([Replacement(card, version, records, vectors)])

    def replace_cards(self, replacements: Sequence[Replacement]) -> None:
        """Crash-safe replacement of the versions of several cards, in a constant number of store calls.

        1. drop invisible leftovers of an interrupted earlier run;
        2. write the new records and each card's card record, all with live=False (readers filter live=True);
        3. flip in ONE update call: new records live, old records dead; readers see a card's old version or
           its new one, never both;
        4. delete the dead records, and bump the collection's generation (other processes' lexical indexes).
        A kill between any two steps leaves the old versions visible (before 3) or the new ones (after 3),
        and the next run converges: step 1 and `purge_dead` remove what is left.
        """
        if not replacements:
            return
        card_ids = [r.card.id for r in replacements]
        self.purge_dead(card_ids)
        rows: list[tuple[IndexRecord, Vectors, dict[str, Any]]] = []
        for item in replacements:
            if len(item.records) != len(item.vectors):
                raise ValueError("one vector per record")
            manifest = IndexRecord(
                f"{item.card.id}::{item.version.content_hash[:16]}::card",
                RecordKind.CARD,
                len(item.records),
                item.card.model_dump_json(),
                "",
            )
            mean = item.vectors.mean(axis=0) if len(item.vectors) else np.ones(self._dim, dtype=np.float32)
            vectors = [*item.vectors, (mean / np.linalg.norm(mean)).astype(np.float32)]
            for record, vector in zip([*item.records, manifest], vectors, strict=True):
                meta = card_metadata(item.card, item.version, record.kind, record.position, language=item.language)
                rows.append((record, vector, meta))
        for start in range(0, len(rows), WRITE_BATCH):
            part = rows[start : start + WRITE_BATCH]
            self._collection.upsert(
                ids=[record.record_id for record, _, _ in part],
                embeddings=np.stack([vector for _, vector, _ in part]),
                documents=[record.document for record, _, _ in part],
                metadatas=[{**meta, "live": False} for _, _, meta in part],
            )
        new_ids = {record.record_id for record, _, _ in rows}
        current: Any = {"$and": [{"card_id": {"$in": card_ids}}, {"live": True}]}
        old = self._collection.get(where=current, include=["metadatas"])
        retired = [(rid, m) for rid, m in zip(old["ids"], old["metadatas"] or [], strict=True) if rid not in new_ids]
        flip_ids = [record.record_id for record, _, _ in rows] + [rid for rid, _ in retired]
        flip_metadatas: Any = [meta for _, _, meta in rows] + [{**dict(m), "live": False} for _, m in retired]
        self._collection.update(ids=flip_ids, metadatas=flip_metadatas)
        self.purge_dead(card_ids)
        self._lexical.changed()

    def purge_dead(self, card_ids: Sequence[str] | None = None) -> None:
        """Delete records that no reader can see (live=False) of these cards, or of all cards."""
        clauses: list[dict[str, Any]] = [{"live": False}]
        if card_ids is not None:
            clauses.append({"card_id": {"$in": list(card_ids)}})
        dead: Any = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        self._collection.delete(where=dead)

    def update_card_facts(self, card: Card, version: CardVersion, language: str | None = None) -> None:
        """New trust, visibility or language facts on every live record of a card, in one call, without
        re-embedding."""
        live: Any = {"$and": [{"card_id": card.id}, {"live": True}]}
        got = self._collection.get(where=live, include=["metadatas", "documents", "embeddings"])
        if not got["ids"]:
            return
        kinds = [RecordKind(str(m["kind"])) for m in got["metadatas"] or []]
        metadatas: Any = [
            card_metadata(card, version, kind, int(cast(int, m["position"])), language=language)
            for kind, m in zip(kinds, got["metadatas"] or [], strict=True)
        ]
        documents = [
            card.model_dump_json() if kind is RecordKind.CARD else str(doc)
            for kind, doc in zip(kinds, got["documents"] or [], strict=True)
        ]
        self._collection.update(
            ids=got["ids"],
            embeddings=got["embeddings"],
            metadatas=metadatas,
            documents=documents,
        )

    def card_ids(self) -> set[str]:
        """Ids of every card with a live version."""
        return set(self.all_card_versions())

    def list_cards(self, collection: str | None = None) -> Iterator[Card]:
        clauses: list[dict[str, Any]] = [{"kind": RecordKind.CARD.value}, {"live": True}]
        if collection is not None:
            clauses.append({"collection": collection})
        where: Any = {"$and": clauses}
        for page in self._collection.pages(where, ["documents"]):
            for document in page["documents"] or []:
                yield Card.model_validate_json(document)

    def get_card(self, card_id: str) -> Card | None:
        where: Any = {"$and": [{"card_id": card_id}, {"kind": RecordKind.CARD.value}, {"live": True}]}
        got = self._collection.get(where=where, include=["documents"])
        documents = got["documents"] or []
        return Card.model_validate_json(documents[0]) if documents else None

    def get_visible_card(self, card_id: str, asker: Asker) -> Card | None:
        """Visibility is the first clause: Chroma then does the same work for a card the asker may not see as
        for a missing one, and nothing of a hidden card is read (existence cannot be timed)."""
        where: Any = {
            "$and": [visible_to(asker), {"card_id": card_id}, {"kind": RecordKind.CARD.value}, {"live": True}]
        }
        got = self._collection.get(where=where, include=["documents"])
        documents = got["documents"] or []
        return Card.model_validate_json(documents[0]) if documents else None

    def delete_card(self, card_id: str) -> None:
        self._collection.delete(where={"card_id": card_id})
        self._lexical.changed()

    def lexical_index(self) -> LexicalIndex:
        """BM25 over the live chunks; rebuilt when any writer (any process) changed the collection.

        The collection's `generation` is read at most every `lexical_ttl_s` seconds, so replicas behind
        one Chroma server agree within that time after a change.
        """
        return self._lexical.index()

    def get_records(self, record_ids: Sequence[str], scope: Scope) -> list[StoredHit]:
        """These records, as far as `scope` lets the asker see them (filtered here by `scope_admits`)."""
        if not record_ids:
            return []
        # Chroma refuses an id asked twice (DuplicateIDError); each record comes back once
        unique = list(dict.fromkeys(record_ids))
        got = self._collection.get(ids=unique, include=["documents", "metadatas", "embeddings"])
        metadatas = got["metadatas"] or []
        vectors = got["embeddings"] if got["embeddings"] is not None else [None] * len(got["ids"])
        keep = [i for i, meta in enumerate(metadatas) if meta is not None and scope_admits(meta, scope)]
        documents = got["documents"] or []
        return to_hits(
            [got["ids"][i] for i in keep],
            [documents[i] for i in keep],
            [metadatas[i] for i in keep],
            [vectors[i] for i in keep],
            None,
        )

    def query(self, vector: Vectors, scope: Scope, n_results: int) -> list[StoredHit]:
        if n_results <= 0:  # Chroma refuses n_results=0; nothing asked for is nothing found
            return []
        result = self._collection.query(
            query_embeddings=[vector.tolist()],
            n_results=n_results,
            where=scope_filter(scope),
            include=["documents", "metadatas", "distances", "embeddings"],
        )
        return to_hits(
            result["ids"][0],
            (result["documents"] or [[]])[0],
            (result["metadatas"] or [[]])[0],
            result["embeddings"][0] if result["embeddings"] is not None else None,
            (result["distances"] or [[]])[0],
        )
