"""The Chroma adapter of the CardIndex port: embedded (PersistentClient) or a server (HttpClient)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import CreateCollectionConfiguration, CreateHNSWConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.api.types import GetResult, QueryResult
from chromadb.config import Settings as ChromaSettings

from rag.adapters.chroma.refresh import Refreshed
from rag.config import Settings
from rag.domain.cards import Card, CardState
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.trust import until_epoch
from rag.domain.types import Asker, CardFacts, RecordKind
from rag.ports import CardVersion, IndexRecord, Replacement, Scope, StoredHit, TrustFilter, Vectors
from rag.retrieval.lexical import LexicalIndex

log = logging.getLogger("verity")
T = TypeVar("T")

PUBLIC_GROUP = "*"  # stored in `groups` of cards everyone may see; no real group can be named "*"
SCHEMA_VERSION = 2  # 2: card records and the live flag
# Chroma's defaults (ef_construction 100, max_neighbors 16, ef_search 100) lose the best records of a filtered
# query once a KB holds thousands of look-alike cards: on the sample KB among 4,946 template cards (15,520
# records) recall@120 against exact search was 0.76 on average and 0 for some questions, and the golden
# questions' cards went missing. With these: 0.999 (least 0.992), query time unchanged (evals, issue 15 note).
HNSW = CreateHNSWConfiguration(space="cosine", ef_construction=200, max_neighbors=32, ef_search=1000)
HNSW_SIZES = {key: cast(int, value) for key, value in HNSW.items() if key != "space"}
WRITE_BATCH = 1_000  # records per upsert call
WRITE_TIMEOUT_FACTOR = 12  # writes may take this many times the read timeout (a 1,000-record upsert indexes HNSW)
STORE_WORKERS = 32  # threads that run store calls; a frozen store can hold them all, later calls still time out
CARD_PAGE = 5_000
# Every key is always written (no optional keys), so a metadata update can never leave a stale key behind.


def build_client(settings: Settings) -> ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, ssl=settings.chroma_ssl, settings=chroma_settings
            )
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except VerityError:
        raise
    except Exception as exc:  # chromadb raises plain exceptions for connection problems
        where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.chroma_path)
        raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"cannot open the Chroma store at {where}: {exc}") from exc


def card_metadata(
    card: Card, version: CardVersion, kind: RecordKind, position: int, live: bool = True, language: str | None = None
) -> dict[str, Any]:
    """`language`: the card's effective language (its own, else the detected one); the card's own otherwise."""
    return {
        "live": live,
        "card_id": card.id,
        "title": card.title,
        "collection": card.collection,
        "url": card.url or "",
        "owner": card.owner or "",
        "verifier": card.verifier or "",
        "state": card.state.value,
        "verified_at": int(card.verified_at.timestamp()) if card.verified_at else 0,
        "verified_until": until_epoch(card.state, card.verified_at, card.verified_until),
        "language": language or card.language or "",
        "internal_only": card.internal_only,
        "groups": list(card.groups) or [PUBLIC_GROUP],
        "tags": ",".join(card.tags),
        "content_hash": version.content_hash,
        "meta_hash": version.meta_hash,
        "kind": kind.value,
        "position": position,
    }


def facts_from_metadata(meta: Mapping[str, Any]) -> CardFacts:
    groups = tuple(g for g in cast(list[str], meta["groups"]) if g != PUBLIC_GROUP)
    verified_at = int(meta["verified_at"])
    return CardFacts(
        card_id=str(meta["card_id"]),
        title=str(meta["title"]),
        collection=str(meta["collection"]),
        url=str(meta["url"]) or None,
        owner=str(meta["owner"]) or None,
        verifier=str(meta["verifier"]) or None,
        state=CardState(str(meta["state"])),
        verified_at=datetime.fromtimestamp(verified_at, UTC) if verified_at > 0 else None,
        verified_until_epoch=int(meta["verified_until"]),
        language=str(meta["language"]) or None,
        internal_only=bool(meta["internal_only"]),
        groups=groups,
        content_hash=str(meta["content_hash"]),
        meta_hash=str(meta["meta_hash"]),
    )


def scope_filter(scope: Scope) -> dict[str, Any]:
    """Translate a Scope into Chroma's `where`: visibility and trust are enforced by the store query."""
    visible = [{"groups": {"$contains": PUBLIC_GROUP}}] + [
        {"groups": {"$contains": group}} for group in sorted(scope.asker.groups)
    ]
    clauses: list[dict[str, Any]] = [{"live": True}, visible[0] if len(visible) == 1 else {"$or": visible}]
    if scope.kind is not None:
        clauses.append({"kind": scope.kind.value})
    else:
        clauses.append({"kind": {"$ne": RecordKind.CARD.value}})
    if scope.trust is TrustFilter.TRUSTED:
        clauses += [{"state": CardState.VERIFIED.value}, {"verified_until": {"$gt": scope.now_epoch}}]
    elif scope.trust is TrustFilter.UNTRUSTED:
        clauses.append({"$or": [{"state": CardState.UNVERIFIED.value}, {"verified_until": {"$lte": scope.now_epoch}}]})
    return {"$and": clauses}


def scope_admits(meta: Mapping[str, Any], scope: Scope) -> bool:
    """The same predicate as `scope_filter`, on one record's metadata. Chroma evaluates a `where` by
    scanning the metadata of the whole collection (~45 ms at 13k records, even with ids given), so a
    fetch by ids is filtered here instead, inside the adapter: nothing out of scope is returned."""
    if meta.get("live") is not True:
        return False
    groups = meta.get("groups")
    if not isinstance(groups, list) or not ({PUBLIC_GROUP} | set(scope.asker.groups)) & set(groups):
        return False
    kind = meta.get("kind")
    if (scope.kind is not None and kind != scope.kind.value) or (scope.kind is None and kind == RecordKind.CARD.value):
        return False
    state = meta.get("state")
    until = meta.get("verified_until")
    if not isinstance(until, int):
        return False
    if scope.trust is TrustFilter.TRUSTED and not (state == CardState.VERIFIED.value and until > scope.now_epoch):
        return False
    return scope.trust is not TrustFilter.UNTRUSTED or state == CardState.UNVERIFIED.value or until <= scope.now_epoch


class StoreCalls:
    """Runs every call to Chroma with a deadline and turns any failure into STORE_UNAVAILABLE (503).

    A frozen store (a stopped server, a held lock) must not hold requests or health checks: the caller waits at
    most `timeout_s` (writes `WRITE_TIMEOUT_FACTOR` times that) and gets a VerityError; the call itself is
    left to finish or fail on its worker thread, which Python cannot interrupt. Nothing else about a failure
    (connection refused, a server error, a half-written record) reaches the caller as anything but
    STORE_UNAVAILABLE, so no store fault is ever a 500.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=STORE_WORKERS, thread_name_prefix="verity-store")

    def read(self, what: str, call: Callable[[], T]) -> T:
        return self._run(what, call, self.timeout_s)

    def write(self, what: str, call: Callable[[], T]) -> T:
        return self._run(what, call, self.timeout_s * WRITE_TIMEOUT_FACTOR)

    def _run(self, what: str, call: Callable[[], T], timeout_s: float) -> T:
        future = self._pool.submit(call)
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout as exc:
            future.cancel()  # still queued behind frozen calls: never run it
            raise VerityError(
                ErrorCode.STORE_UNAVAILABLE, f"the Chroma store did not answer ({what}) within {timeout_s:g} s"
            ) from exc
        except VerityError:
            raise
        except Exception as exc:
            log.warning("Chroma %s failed: %s: %s", what, type(exc).__name__, exc)
            raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"the Chroma store failed ({what})") from exc


class GuardedCollection:
    """The Chroma collection's calls, each through `StoreCalls` (a deadline; failures are STORE_UNAVAILABLE)."""

    def __init__(self, collection: Collection, calls: StoreCalls) -> None:
        self._collection = collection
        self._calls = calls

    def get(self, **kwargs: Any) -> GetResult:
        return self._calls.read("get", lambda: self._collection.get(**kwargs))

    def query(self, **kwargs: Any) -> QueryResult:
        return self._calls.read("query", lambda: self._collection.query(**kwargs))

    def upsert(self, **kwargs: Any) -> None:
        self._calls.write("upsert", lambda: self._collection.upsert(**kwargs))

    def update(self, **kwargs: Any) -> None:
        self._calls.write("update", lambda: self._collection.update(**kwargs))

    def delete(self, **kwargs: Any) -> None:
        self._calls.write("delete", lambda: self._collection.delete(**kwargs))

    def modify(self, **kwargs: Any) -> None:
        self._calls.write("modify", lambda: self._collection.modify(**kwargs))


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
        self._name = name
        self._dim = dim
        self._calls = StoreCalls(timeout_s)
        self._collection = GuardedCollection(self._open(name, embedder_name, dim), self._calls)
        self._base_metadata = {"embedder": embedder_name, "dim": dim, "schema_version": SCHEMA_VERSION}
        self._lexical = Refreshed(lexical_ttl_s, self._generation, self._build_lexical)

    def _open(self, name: str, embedder_name: str, dim: int) -> Collection:
        wanted = {"embedder": embedder_name, "dim": dim, "schema_version": SCHEMA_VERSION}
        try:
            collection = self._calls.read(
                "open the collection",
                lambda: self._client.get_or_create_collection(
                    name,
                    metadata=wanted,
                    configuration=CreateCollectionConfiguration(hnsw=HNSW),
                    embedding_function=None,
                ),
            )
        except VerityError as exc:
            why = exc.__cause__ or exc.message
            raise VerityError(ErrorCode.STORE_UNAVAILABLE, f"cannot open collection {name!r}: {why}") from exc
        found = dict(collection.metadata or {})
        if found.get("embedder") != embedder_name or found.get("dim") != dim:
            raise VerityError(
                ErrorCode.EMBEDDER_MISMATCH,
                f"collection {name!r} holds vectors of embedder {found.get('embedder')!r} "
                f"(dim {found.get('dim')}), but Verity is configured with {embedder_name!r} (dim {dim}); "
                "vectors of different embedders never share a collection: set VERITY_COLLECTION to a new name "
                "and re-ingest, or configure the original embedder",
            )
        hnsw = _hnsw_of(collection)
        if hnsw and any(int(hnsw.get(key, 0)) < value for key, value in HNSW_SIZES.items()):
            log.warning(
                "collection %r was created with HNSW settings %s, which lose records of large KBs; Verity creates "
                "new collections with %s: set VERITY_COLLECTION to a new name and re-ingest to use them",
                name,
                {k: hnsw.get(k) for k in HNSW_SIZES},
                HNSW_SIZES,
            )
        if found.get("schema_version") != SCHEMA_VERSION:
            raise VerityError(
                ErrorCode.CONFIGURATION,
                f"collection {name!r} has schema version {found.get('schema_version')}, expected {SCHEMA_VERSION}",
            )
        return collection

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
        return {
            str(meta["card_id"]): CardVersion(str(meta["content_hash"]), str(meta["meta_hash"]))
            for meta in got["metadatas"] or []
        }

    def _paged_metadatas(self, where: Any) -> Iterator[Mapping[str, Any]]:
        offset = 0
        while True:
            page = self._collection.get(where=where, include=["metadatas"], limit=CARD_PAGE, offset=offset)
            metadatas = page["metadatas"] or []
            yield from metadatas
            if len(metadatas) < CARD_PAGE:
                return
            offset += CARD_PAGE

    def all_card_versions(self) -> dict[str, CardVersion]:
        where: Any = {"$and": [{"kind": RecordKind.CARD.value}, {"live": True}]}
        return {
            str(m["card_id"]): CardVersion(str(m["content_hash"]), str(m["meta_hash"]))
            for m in self._paged_metadatas(where)
        }

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
        self._bump_generation()

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
        offset = 0
        while True:
            page = self._collection.get(where=where, include=["documents"], limit=CARD_PAGE, offset=offset)
            documents = page["documents"] or []
            for document in documents:
                yield Card.model_validate_json(document)
            if len(documents) < CARD_PAGE:
                return
            offset += CARD_PAGE

    def get_card(self, card_id: str) -> Card | None:
        where: Any = {"$and": [{"card_id": card_id}, {"kind": RecordKind.CARD.value}, {"live": True}]}
        got = self._collection.get(where=where, include=["documents"])
        documents = got["documents"] or []
        return Card.model_validate_json(documents[0]) if documents else None

    def get_visible_card(self, card_id: str, asker: Asker) -> Card | None:
        """Visibility is the first clause: Chroma then does the same work for a card the asker may not see as
        for a missing one, and nothing of a hidden card is read (existence cannot be timed)."""
        groups = [{"groups": {"$contains": group}} for group in [PUBLIC_GROUP, *sorted(asker.groups)]]
        visible = groups[0] if len(groups) == 1 else {"$or": groups}
        where: Any = {"$and": [visible, {"card_id": card_id}, {"kind": RecordKind.CARD.value}, {"live": True}]}
        got = self._collection.get(where=where, include=["documents"])
        documents = got["documents"] or []
        return Card.model_validate_json(documents[0]) if documents else None

    def delete_card(self, card_id: str) -> None:
        self._collection.delete(where={"card_id": card_id})
        self._bump_generation()

    def _bump_generation(self) -> None:
        """Tell every process sharing this collection that its texts changed (lexical indexes rebuild)."""
        self._collection.modify(metadata={**self._base_metadata, "generation": uuid.uuid4().hex})
        self._lexical.invalidate()

    def _generation(self) -> str:
        collection = self._calls.read("read the generation", lambda: self._client.get_collection(self._name))
        metadata = collection.metadata or {}
        return str(metadata.get("generation", ""))

    def lexical_index(self) -> LexicalIndex:
        """BM25 over the live chunks; rebuilt when any writer (any process) changed the collection.

        The collection's `generation` is read at most every `lexical_ttl_s` seconds, so replicas behind
        one Chroma server agree within that time after a change.
        """
        return self._lexical.get()

    def _build_lexical(self) -> LexicalIndex:
        ids: list[str] = []
        texts: list[str] = []
        where: Any = {"$and": [{"kind": RecordKind.CHUNK.value}, {"live": True}]}
        offset = 0
        while True:
            page = self._collection.get(where=where, include=["documents"], limit=CARD_PAGE, offset=offset)
            documents = page["documents"] or []
            ids.extend(page["ids"])
            texts.extend(str(d) for d in documents)
            if len(documents) < CARD_PAGE:
                return LexicalIndex(ids, texts)
            offset += CARD_PAGE

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
        return _hits(
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
        return _hits(
            result["ids"][0],
            (result["documents"] or [[]])[0],
            (result["metadatas"] or [[]])[0],
            result["embeddings"][0] if result["embeddings"] is not None else None,
            (result["distances"] or [[]])[0],
        )


def _hnsw_of(collection: Collection) -> dict[str, Any]:
    try:
        return dict((collection.configuration or {}).get("hnsw") or {})
    except Exception:  # a server too old to report its configuration: nothing to compare
        return {}


def _hits(
    ids: Sequence[str],
    documents: Sequence[Any],
    metadatas: Sequence[Any],
    vectors: Any,
    distances: Sequence[float] | None,
) -> list[StoredHit]:
    """Chroma's columns -> hits. A record deleted or retired by a concurrent writer between the vector search
    and the fetch of its metadata comes back without metadata, with part of it, or no longer live: it is
    skipped, never half-read."""
    vectors = vectors if vectors is not None else [None] * len(ids)
    scores = [1.0 - float(d) for d in distances] if distances is not None else [0.0] * len(ids)
    hits = (
        _hit(rid, doc, meta, vec, score)
        for rid, doc, meta, vec, score in zip(ids, documents, metadatas, vectors, scores, strict=True)
        if meta is not None and doc is not None and vec is not None and meta.get("live") is True
    )
    return [hit for hit in hits if hit is not None]


def _hit(record_id: str, document: Any, meta: Mapping[str, Any], vector: Any, score: float) -> StoredHit | None:
    try:
        facts = facts_from_metadata(meta)
        kind = RecordKind(str(meta["kind"]))
    except (KeyError, ValueError, TypeError):
        log.warning("skipped record %s: its metadata is incomplete (a concurrent write?)", record_id)
        return None
    return StoredHit(
        record_id=record_id,
        kind=kind,
        document=str(document),
        score=score,
        facts=facts,
        vector=np.asarray(vector, dtype=np.float32),
    )
