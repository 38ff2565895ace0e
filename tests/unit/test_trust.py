from datetime import UTC, datetime, timedelta

import pytest

from rag.domain.cards import CardState
from rag.domain.trust import NEVER_EXPIRES_EPOCH, TrustStatus, epoch_to_datetime, trust_status, until_epoch
from tests.builders import make_card

VERIFIED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def status_after(days: float, interval: int | None = 90, state: str = "verified") -> TrustStatus:
    card = make_card(verified_at=VERIFIED_AT, verify_interval_days=interval, state=state)
    epoch = until_epoch(card.state, card.verified_at, card.verified_until)
    return trust_status(card.state, epoch, VERIFIED_AT + timedelta(days=days))


def test_89_days_into_a_90_day_interval_is_trusted() -> None:
    assert status_after(89) is TrustStatus.VERIFIED


def test_91_days_into_a_90_day_interval_is_expired() -> None:
    assert status_after(91) is TrustStatus.EXPIRED


def test_expiry_is_exclusive_at_the_boundary() -> None:
    assert status_after(90 - 1 / 86400) is TrustStatus.VERIFIED
    assert status_after(90) is TrustStatus.EXPIRED


def test_a_card_without_interval_never_expires() -> None:
    assert status_after(365 * 50, interval=None) is TrustStatus.VERIFIED


@pytest.mark.parametrize("days", [0, 10, 10_000])
def test_an_unverified_card_is_never_trusted(days: int) -> None:
    card = make_card(state="unverified")
    epoch = until_epoch(card.state, card.verified_at, card.verified_until)
    assert trust_status(CardState.UNVERIFIED, epoch, VERIFIED_AT + timedelta(days=days)) is TrustStatus.UNVERIFIED


def test_sentinels_are_not_shown_as_dates() -> None:
    assert epoch_to_datetime(NEVER_EXPIRES_EPOCH) is None
    assert epoch_to_datetime(0) is None
    assert epoch_to_datetime(1_800_000_000) == datetime.fromtimestamp(1_800_000_000, UTC)


def test_the_one_visibility_rule() -> None:
    from rag.domain.types import Asker

    assert Asker().may_see(())  # open to everyone
    assert not Asker().may_see(("finance",))
    assert Asker(frozenset({"support", "finance"})).may_see(["finance", "legal"])
    assert not Asker(frozenset({"support"})).may_see(["finance", "legal"])
