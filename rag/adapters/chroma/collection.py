"""Opening the Chroma store: the client (embedded in a folder, or a server) and Verity's collection in it."""

from __future__ import annotations

import logging
from typing import Any, cast

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import CreateCollectionConfiguration, CreateHNSWConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

from rag.adapters.chroma.calls import StoreCalls
from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError

log = logging.getLogger("verity")

SCHEMA_VERSION = 2  # 2: card records and the live flag
# Chroma's defaults (ef_construction 100, max_neighbors 16, ef_search 100) lose the best records of a filtered
# query once a KB holds thousands of look-alike cards: on the sample KB among 4,946 template cards (15,520
# records) recall@120 against exact search was 0.76 on average and 0 for some questions, and the golden
# questions' cards went missing. With these: 0.999 (least 0.992), query time unchanged (evals, issue 15 note).
HNSW = CreateHNSWConfiguration(space="cosine", ef_construction=200, max_neighbors=32, ef_search=1000)
HNSW_SIZES = {key: cast(int, value) for key, value in HNSW.items() if key != "space"}


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


def open_collection(client: ClientAPI, calls: StoreCalls, name: str, embedder_name: str, dim: int) -> Collection:
    """The collection `name`, created with Verity's HNSW sizes when new; refused when it holds another embedder's
    vectors or another schema."""
    wanted = {"embedder": embedder_name, "dim": dim, "schema_version": SCHEMA_VERSION}
    try:
        collection = calls.read(
            "open the collection",
            lambda: client.get_or_create_collection(
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


def _hnsw_of(collection: Collection) -> dict[str, Any]:
    try:
        return dict((collection.configuration or {}).get("hnsw") or {})
    except Exception:  # a server too old to report its configuration: nothing to compare
        return {}
