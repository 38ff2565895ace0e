"""How a card's records are kept in Chroma: a card's facts as record metadata and back, a Scope as a `where`
filter (and the same predicate on one record's metadata), and Chroma's result columns as hits."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np

from rag.domain.cards import Card, CardState
from rag.domain.trust import until_epoch
from rag.domain.types import Asker, CardFacts, RecordKind
from rag.ports import CardVersion, Scope, StoredHit, TrustFilter

log = logging.getLogger("verity")

PUBLIC_GROUP = "*"  # stored in `groups` of cards everyone may see; no real group can be named "*"
# Every key is always written (no optional keys), so a metadata update can never leave a stale key behind.


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


def version_of(meta: Mapping[str, Any]) -> CardVersion:
    return CardVersion(str(meta["content_hash"]), str(meta["meta_hash"]))


def visible_to(asker: Asker) -> dict[str, Any]:
    """The `where` clause of the records `asker` may see: open to everyone, or of one of the asker's groups."""
    groups = [{"groups": {"$contains": group}} for group in [PUBLIC_GROUP, *sorted(asker.groups)]]
    return groups[0] if len(groups) == 1 else {"$or": groups}


def scope_filter(scope: Scope) -> dict[str, Any]:
    """Translate a Scope into Chroma's `where`: visibility and trust are enforced by the store query."""
    clauses: list[dict[str, Any]] = [{"live": True}, visible_to(scope.asker)]
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


def to_hits(
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
    found = (
        record_hit(rid, doc, meta, vec, score)
        for rid, doc, meta, vec, score in zip(ids, documents, metadatas, vectors, scores, strict=True)
        if meta is not None and doc is not None and vec is not None and meta.get("live") is True
    )
    return [hit for hit in found if hit is not None]


def record_hit(record_id: str, document: Any, meta: Mapping[str, Any], vector: Any, score: float) -> StoredHit | None:
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
