"""The API's schemas, per direction: what clients send, what Verity returns, and shared pieces.

requests.py holds what clients send; answers.py, checks.py and cards.py what Verity returns; shared.py the
pieces several of them use. Every schema is importable from `api.schemas`. A card is declared once:
`CardWrite`, the body of a card write, is the stored `Card` that `CardPublic.card` returns, so the OpenAPI
document describes both with one `Card` schema.
"""

from api.schemas.answers import (
    AskPublic,
    CandidatePublic,
    CardRefPublic,
    DraftPublic,
    NeedsHumanPublic,
    RefusalPublic,
    SearchHitPublic,
    SearchPublic,
    TrustPublic,
)
from api.schemas.cards import (
    CardListPublic,
    CardPublic,
    CardSummaryPublic,
    CardWritePublic,
    CollectionsPublic,
    CollectionTrustPublic,
    HealthPublic,
)
from api.schemas.checks import CheckedCardPublic, CheckPublic, CheckSummaryPublic, SentenceCheckPublic
from api.schemas.requests import AskRequest, CardWrite, CheckRequest, DraftRequest, SearchRequest, VerifyRequest
from api.schemas.shared import CitationPublic, DroppedPublic, Group

__all__ = [
    "AskPublic",
    "AskRequest",
    "CandidatePublic",
    "CardListPublic",
    "CardPublic",
    "CardRefPublic",
    "CardSummaryPublic",
    "CardWrite",
    "CardWritePublic",
    "CheckPublic",
    "CheckRequest",
    "CheckSummaryPublic",
    "CheckedCardPublic",
    "CitationPublic",
    "CollectionTrustPublic",
    "CollectionsPublic",
    "DraftPublic",
    "DraftRequest",
    "DroppedPublic",
    "Group",
    "HealthPublic",
    "NeedsHumanPublic",
    "RefusalPublic",
    "SearchHitPublic",
    "SearchPublic",
    "SearchRequest",
    "SentenceCheckPublic",
    "TrustPublic",
    "VerifyRequest",
]
