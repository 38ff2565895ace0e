"""What clients send: the bodies of questions, searches, reply drafts, checks, card writes and verifications."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.schemas.shared import Group
from rag.domain.cards import JSON_INTEGER, NOT_BLANK, Card

AskerGroups = Annotated[list[Group], Field(max_length=50, description="Groups of the asker (from a trusted gateway).")]
AgentGroups = Annotated[list[Group], Field(max_length=50, description="Groups of the agent (from a trusted gateway).")]
TopK = Annotated[int, Field(ge=1, le=50), JSON_INTEGER] | None

CardWrite = Card
"""A card as a client writes it (PUT /v1/cards/{id}): the stored Card itself, so its fields and rules are
declared once, for the body a client sends and for `CardPublic.card` that Verity returns."""


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, Field(min_length=1, pattern=NOT_BLANK, description="The question, in any language.")]
    groups: AskerGroups = []
    top_k: (
        Annotated[int, Field(ge=1, le=50, description="Cards to retrieve (default from settings)."), JSON_INTEGER]
        | None
    ) = None
    stream: StrictBool = Field(
        default=False,
        description="Answer as server-sent events: `text` (each sentence once it passed the guard), `dropped` "
        "(each sentence the guard removed), then `result` (the whole response, as without streaming), or "
        "`error` (a problem object). Closing the connection stops generation.",
    )


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(min_length=1, pattern=NOT_BLANK, description="Search text, in any language.")]
    groups: AskerGroups = []
    top_k: TopK = None


class DraftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[
        str, Field(min_length=1, pattern=NOT_BLANK, description="The customer's message, in any language.")
    ]
    context: Annotated[
        str | None,
        Field(description="Ticket context for the model (product, plan, history); never quoted to the customer."),
    ] = None
    groups: AgentGroups = []
    top_k: TopK = None


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str,
        Field(
            min_length=1,
            pattern=NOT_BLANK,
            description="The reply to check, as written, in any language. `[n]` markers in it are ignored: they "
            "refer to nothing Verity knows.",
        ),
    ]
    groups: AgentGroups = []
    top_k: (
        Annotated[
            int, Field(ge=1, le=50, description="Cards to retrieve per sentence (default from settings)."), JSON_INTEGER
        ]
        | None
    ) = None


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verifier: Annotated[
        str, Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="Who verified the card.")
    ]
    verify_interval_days: Annotated[int, Field(gt=0, le=36_500), JSON_INTEGER] | None = Field(
        None, description="A new interval; the card keeps its own when omitted."
    )
