from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from rag.domain.cards import Card, CardState, parse_instant
from tests.builders import make_card


def test_verified_until_is_verified_at_plus_interval() -> None:
    card = make_card(verified_at="2026-01-01T00:00:00Z", verify_interval_days=90)
    assert card.verified_until == datetime(2026, 4, 1, tzinfo=UTC)


def test_no_interval_means_no_expiry() -> None:
    assert make_card(verify_interval_days=None).verified_until is None


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"id": ""}, "id"),
        ({"id": "has space"}, "id"),
        ({"id": 123}, "id"),
        ({"title": ""}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"body": "   "}, "body"),
        ({"state": "trusted"}, "state"),
        ({"verified_at": "last tuesday"}, "ISO 8601"),
        ({"verify_interval_days": "ninety"}, "verify_interval_days"),
        ({"verify_interval_days": 0}, "verify_interval_days"),
        ({"groups": "finance"}, "list"),
        ({"groups": ["Finance Team"]}, "groups"),
        ({"internal_only": "maybe"}, "internal_only"),
        ({"url": "kb/card-1"}, "url"),
        ({"colour": "blue"}, "colour"),
        ({"verified_at": None}, "verified_at"),
        ({"verifier": None}, "verifier"),
    ],
)
def test_invalid_cards_are_refused_with_the_field_named(overrides: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_card(**overrides)
    assert needle in str(info.value)


def test_unverified_card_needs_no_verification_date() -> None:
    card = make_card(state="unverified")
    assert card.state is CardState.UNVERIFIED
    assert card.verified_until is None


def test_groups_are_sorted_and_unique() -> None:
    assert make_card(groups=["support-leads", "finance", "finance"]).groups == ("finance", "support-leads")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-02T09:30:00Z", datetime(2026, 11, 2, 9, 30, tzinfo=UTC)),
        ("2026-11-02T12:30:00+03:00", datetime(2026, 11, 2, 9, 30, tzinfo=UTC)),
        ("2026-11-02", datetime(2026, 11, 2, tzinfo=UTC)),
        (datetime(2026, 11, 2, 9, 30), datetime(2026, 11, 2, 9, 30, tzinfo=UTC)),
    ],
)
def test_instants_are_read_as_utc(value: object, expected: datetime) -> None:
    assert parse_instant(value) == expected


def test_cards_are_immutable() -> None:
    card = make_card()
    with pytest.raises(ValidationError):
        card.title = "changed"  # type: ignore[misc]
    assert isinstance(card, Card)
