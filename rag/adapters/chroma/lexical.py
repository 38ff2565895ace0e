"""The BM25 index (rag/retrieval/lexical.py) over one Chroma collection's live chunks, kept as current as the
collection: every write stamps the collection with a new `generation`, and a reader rebuilds its index when
the stamp it reads (at most every `ttl_s` seconds) differs, so replicas behind one Chroma server agree."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from chromadb.api import ClientAPI

from rag.adapters.chroma.calls import GuardedCollection, StoreCalls
from rag.adapters.chroma.refresh import Refreshed
from rag.domain.types import RecordKind
from rag.retrieval.lexical import LexicalIndex


class CollectionLexicon:
    def __init__(
        self,
        client: ClientAPI,
        name: str,
        collection: GuardedCollection,
        calls: StoreCalls,
        metadata: Mapping[str, Any],
        ttl_s: float,
    ) -> None:
        """`metadata`: the collection's own (embedder, dim, schema), written again with each new generation."""
        self._client = client
        self._name = name
        self._collection = collection
        self._calls = calls
        self._metadata = dict(metadata)
        self._index = Refreshed(ttl_s, self._generation, self._build)

    def index(self) -> LexicalIndex:
        return self._index.get()

    def changed(self) -> None:
        """Tell every process sharing this collection that its texts changed (lexical indexes rebuild)."""
        self._collection.modify(metadata={**self._metadata, "generation": uuid.uuid4().hex})
        self._index.invalidate()

    def _generation(self) -> str:
        collection = self._calls.read("read the generation", lambda: self._client.get_collection(self._name))
        metadata = collection.metadata or {}
        return str(metadata.get("generation", ""))

    def _build(self) -> LexicalIndex:
        ids: list[str] = []
        texts: list[str] = []
        where: Any = {"$and": [{"kind": RecordKind.CHUNK.value}, {"live": True}]}
        for page in self._collection.pages(where, ["documents"]):
            ids.extend(page["ids"])
            texts.extend(str(d) for d in page["documents"] or [])
        return LexicalIndex(ids, texts)
