"""Card API for tools that push changes. Reads follow the asker's groups; writes need a write key, and a key
bound to groups is answered about a card it may not see exactly as about a missing one (404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.http.auth import WriterDep
from api.http.deps import CallerDep, CatalogDep
from api.schemas import (
    CardListPublic,
    CardPublic,
    CardSummaryPublic,
    CardWrite,
    CardWritePublic,
    CollectionsPublic,
    CollectionTrustPublic,
    Group,
    VerifyRequest,
)
from rag.domain.cards import ID_PATTERN
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.trust import TrustStatus
from rag.services.catalog import not_found

router = APIRouter(tags=["cards"])

CardId = Annotated[str, Path(pattern=ID_PATTERN, description="The card's stable id.")]
Groups = Annotated[
    list[Group],
    Query(max_length=50, description="Groups of the asker (from a trusted gateway); with a read key, a subset of its."),
]


@router.get("/v1/cards/{card_id}", response_model=CardPublic, summary="One card with its trust facts")
async def get_card(card_id: CardId, catalog: CatalogDep, caller: CallerDep, groups: Groups = []) -> CardPublic:  # noqa: B006 - FastAPI copies query defaults
    view = await run_in_threadpool(catalog.get, card_id, caller.asker(groups))
    if view is None:
        raise not_found(card_id)
    return CardPublic.of(view)


@router.get("/v1/cards", response_model=CardListPublic, summary="Cards with trust facts, filtered")
async def list_cards(
    catalog: CatalogDep,
    caller: CallerDep,
    groups: Groups = [],  # noqa: B006 - FastAPI copies query defaults
    collection: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[TrustStatus | None, Query(description="verified, expired or unverified, as of now")] = None,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=36_500)] = None,
) -> CardListPublic:
    views = await run_in_threadpool(catalog.find, caller.asker(groups), collection, state, expiring_within_days)
    return CardListPublic(cards=[CardSummaryPublic.of(v) for v in views])


@router.get("/v1/collections", response_model=CollectionsPublic, summary="Trust score of each collection")
async def collections(catalog: CatalogDep, caller: CallerDep, groups: Groups = []) -> CollectionsPublic:  # noqa: B006
    scores = await run_in_threadpool(catalog.trust_scores, caller.asker(groups))
    return CollectionsPublic(collections=[CollectionTrustPublic.of(s) for s in scores])


@router.put("/v1/cards/{card_id}", response_model=CardWritePublic, summary="Add or replace a card")
async def put_card(card_id: CardId, card: CardWrite, catalog: CatalogDep, key: WriterDep) -> CardWritePublic:
    if card.id != card_id:
        # 409, not 422: each id is valid on its own; they disagree (JSON Schema cannot say the two must be equal)
        raise VerityError(ErrorCode.CONFLICT, f"the body's id {card.id!r} differs from the path's {card_id!r}")
    outcome = await run_in_threadpool(catalog.put, card, key.writer(into=card.groups))
    return CardWritePublic(outcome=outcome, card=CardPublic.of(catalog.view(card)))


@router.delete("/v1/cards/{card_id}", status_code=204, summary="Delete a card and every record of it")
async def delete_card(card_id: CardId, catalog: CatalogDep, key: WriterDep) -> Response:
    await run_in_threadpool(catalog.delete, card_id, key.writer())
    return Response(status_code=204)


@router.post("/v1/cards/{card_id}/verify", response_model=CardPublic, summary="Mark a card verified now")
async def verify_card(card_id: CardId, body: VerifyRequest, catalog: CatalogDep, key: WriterDep) -> CardPublic:
    view = await run_in_threadpool(catalog.verify, card_id, body.verifier, key.writer(), body.verify_interval_days)
    return CardPublic.of(view)


@router.post("/v1/cards/{card_id}/unverify", response_model=CardPublic, summary="Withdraw a card's verification")
async def unverify_card(card_id: CardId, catalog: CatalogDep, key: WriterDep) -> CardPublic:
    return CardPublic.of(await run_in_threadpool(catalog.unverify, card_id, key.writer()))
