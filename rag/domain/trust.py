"""The verification gate: is a card trusted *now*? Evaluated at query time, never frozen at ingest."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from rag.domain.cards import CardState

# Stored in place of "never expires" so that range filters in the vector store stay numeric.
NEVER_EXPIRES_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z
NOT_VERIFIED_EPOCH = 0


class TrustStatus(StrEnum):
    VERIFIED = "verified"
    EXPIRED = "expired"
    UNVERIFIED = "unverified"


def until_epoch(state: CardState, verified_at: datetime | None, verified_until: datetime | None) -> int:
    """The epoch second until which a card is trusted, as the store keeps it."""
    if state is not CardState.VERIFIED or verified_at is None:
        return NOT_VERIFIED_EPOCH
    if verified_until is None:
        return NEVER_EXPIRES_EPOCH
    return int(verified_until.timestamp())


def trust_status(state: CardState, verified_until_epoch: int, now: datetime) -> TrustStatus:
    """verified while now < verified_until; expired after; unverified if never verified."""
    if state is not CardState.VERIFIED or verified_until_epoch <= NOT_VERIFIED_EPOCH:
        return TrustStatus.UNVERIFIED
    if now.timestamp() < verified_until_epoch:
        return TrustStatus.VERIFIED
    return TrustStatus.EXPIRED


def epoch_to_datetime(epoch: int) -> datetime | None:
    """Inverse of `until_epoch` for display: None for the sentinels."""
    if epoch <= NOT_VERIFIED_EPOCH or epoch >= NEVER_EXPIRES_EPOCH:
        return None
    return datetime.fromtimestamp(epoch, UTC)
