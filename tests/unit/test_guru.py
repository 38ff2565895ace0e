import json
from datetime import UTC, datetime
from pathlib import Path

from ingest.sources import CardFailure, ParsedCard, SourceItem, read_source
from ingest.sources.guru import html_to_markdown, parse_guru
from rag.domain.cards import Card, CardState

FIXTURES = Path(__file__).parent.parent / "fixtures" / "guru"
EXPORT = "orbita-export.guru.json"
REFUNDS = "3f1c2a9e-6b1d-4c7a-9f0e-2d8b5a1c7e41"
BILLING_EMAIL = "7a2b4c6d-8e0f-4a1b-9c3d-5e7f9a1b3c5d"
SHIPPING = "c4e6a8b0-2d4f-4e6a-8b0c-2d4f6a8b0c2e"
STATUS_PAGE = "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a"
REEMBOLSO = "1e3c5a7b-9d1f-4b3d-8f5a-7c9e1b3d5f7a"

GOOD = {
    "id": "a1b2c3d4-0000-4000-8000-000000000001",
    "slug": "Ab12Cd34/Refund-window",
    "preferredPhrase": "Refund window",
    "content": "<p>Refunds are possible within 30 days.</p>",
    "lastVerified": "2026-11-02T09:30:00.000+0000",
    "verificationState": "TRUSTED",
    "verificationInterval": 90,
    "nextVerificationDate": "2027-01-31T09:30:00.000+0000",
    "verifiers": [{"type": "user", "user": {"email": "joana@orbita.example"}}],
    "owner": {"email": "ayse@orbita.example"},
    "collection": {"id": "c1", "name": "Billing"},
    "dateCreated": "2025-01-01T00:00:00.000+0000",
    "shareStatus": "TEAM",
}


def export_items() -> list[SourceItem]:
    return list(parse_guru((FIXTURES / EXPORT).read_text(encoding="utf-8"), EXPORT))


def export_cards() -> dict[str, Card]:
    return {item.card.id: item.card for item in export_items() if isinstance(item, ParsedCard)}


def line(**changes: object) -> str:
    """GOOD as one JSONL line, with keys changed (None removes the key)."""
    card = {**GOOD, **changes}
    return json.dumps({k: v for k, v in card.items() if v is not None})


def failure(item: object) -> CardFailure:
    assert isinstance(item, CardFailure), item
    return item


def parsed(item: object) -> Card:
    assert isinstance(item, ParsedCard), item
    return item.card


def test_every_field_of_a_trusted_guru_card_is_mapped() -> None:
    card = export_cards()[REFUNDS]
    assert card.title == "Refunds for Pro Annual plans"
    assert card.collection == "Billing"
    assert card.owner == "ayse@orbita.example"
    assert card.verifier == "joana@orbita.example"
    assert card.state is CardState.VERIFIED
    assert card.verified_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert card.verify_interval_days == 365
    assert card.next_verification_at == datetime(2027, 11, 2, 9, 30, tzinfo=UTC)
    assert card.verified_until == datetime(2027, 11, 2, 9, 30, tzinfo=UTC)
    assert card.url == "https://app.getguru.com/card/iRk8q5Bc/Refunds-for-Pro-Annual-plans"
    assert card.tags == ("refund", "annual-plan", "board:Refunds")
    assert card.language is None
    assert card.internal_only is False
    assert card.groups == ()


def test_all_five_export_cards_parse() -> None:
    items = export_items()
    assert all(isinstance(item, ParsedCard) for item in items), [str(i) for i in items]
    assert set(export_cards()) == {REFUNDS, BILLING_EMAIL, SHIPPING, STATUS_PAGE, REEMBOLSO}


def test_html_becomes_markdown_with_list_items_table_rows_and_links() -> None:
    body = export_cards()[REFUNDS].body
    assert body.startswith("## Who can get a refund\n\n")
    assert "- the request arrives within 30 days of purchase\n- the account has had no refund before" in body
    assert "| Plan | Refund window |\n| --- | --- |\n| Pro Annual | 30 days |\n| Team Annual | 14 days |" in body
    assert "[the billing console](https://billing.orbita.example/refunds)" in body
    assert "**Pro Annual**" in body


def test_html_scripts_styles_and_inline_images_are_dropped() -> None:
    body = export_cards()[REFUNDS].body
    assert "guruTrack" not in body
    assert "color" not in body
    assert "base64" not in body
    assert "refund flow" in body  # the image's alt text stays
    assert "\n\n\n" not in body


def test_html_to_markdown_keeps_web_images_and_ordered_lists() -> None:
    text = html_to_markdown('<ol><li>One</li><li>Two</li></ol><p><img src="https://cdn.example/a.png" alt="A"></p>')
    assert text == "1. One\n2. Two\n\n![A](https://cdn.example/a.png)"


def test_needs_verification_is_unverified_without_verified_at() -> None:
    card = export_cards()[BILLING_EMAIL]
    assert card.state is CardState.UNVERIFIED
    assert card.verified_at is None
    assert card.next_verification_at is None
    assert card.verified_until is None
    assert card.verifier == "joana@orbita.example"


def test_trusted_with_a_past_next_verification_date_is_trusted_until_then() -> None:
    card = export_cards()[SHIPPING]
    assert card.state is CardState.VERIFIED
    assert card.verified_until == datetime(2024, 4, 14, 11, 0, tzinfo=UTC)
    assert card.verified_until < datetime.now(UTC)
    assert card.tags == ("board:Islands",)


def test_a_user_group_verifier_is_named_as_a_group() -> None:
    card = export_cards()[STATUS_PAGE]
    assert card.verifier == "group:Incident Response"
    assert card.tags == ("incident", "status-page", "board:Sev-1 playbook")


def test_a_portuguese_card_keeps_its_text() -> None:
    card = export_cards()[REEMBOLSO]
    assert card.title == "Reembolso do plano Pro Anual"
    assert "na íntegra" in card.body
    assert "- O valor volta ao cartão em até 10 dias úteis" in card.body
    assert card.language is None


def test_array_cards_carry_the_line_their_object_starts_on() -> None:
    text = (FIXTURES / EXPORT).read_text(encoding="utf-8")
    starts = [number for number, row in enumerate(text.splitlines(), start=1) if row.strip() == "{"]
    assert [item.location.line for item in export_items()] == starts
    assert [item.location.path for item in export_items()] == [EXPORT] * 5


def test_jsonl_failures_carry_their_line_and_good_lines_still_parse() -> None:
    text = (FIXTURES / "broken.guru.jsonl").read_text(encoding="utf-8")
    first, broken, untitled = parse_guru(text, "broken.guru.jsonl")
    assert isinstance(first, ParsedCard)
    assert first.location.line == 1
    assert first.card.title == "Password reset links"
    assert failure(broken).location.line == 2
    assert failure(broken).message.startswith("invalid JSON:")
    assert "column" in failure(broken).message
    assert str(failure(untitled)) == (
        "broken.guru.jsonl:3 (card 8e0a2c4d-6f8b-4d0e-2a4c-6d8f0a2c4e6a): preferredPhrase: is required"
    )


def test_blank_jsonl_lines_are_skipped_and_keep_numbering() -> None:
    items = list(parse_guru(f"\n{line()}\n\n{line(id='a1b2c3d4-0000-4000-8000-000000000002')}\n", "x.guru.jsonl"))
    assert [item.location.line for item in items] == [2, 4]


def problem(**changes: object) -> str:
    """The failure message for GOOD with keys changed."""
    return failure(next(parse_guru(line(**changes), "x.guru.jsonl"))).message


def test_missing_guru_keys_are_named_in_guru_terms() -> None:
    message = problem(id=None, preferredPhrase=None, content=None)
    assert "id: is required" in message
    assert "preferredPhrase: is required" in message
    assert "content: is required" in message
    assert "title" not in message and "body" not in message


def test_an_unknown_verification_state_is_a_failure_naming_it() -> None:
    item = failure(next(parse_guru(line(verificationState="ARCHIVED"), "x.guru.jsonl")))
    assert item.message == "verificationState: unknown value 'ARCHIVED'; expected TRUSTED or NEEDS_VERIFICATION"
    assert item.card_id == GOOD["id"]


def test_a_trusted_card_without_verifiers_or_date_is_refused_in_guru_terms() -> None:
    assert problem(verifiers=[]) == "verifiers: a TRUSTED card needs a verifier"
    assert problem(lastVerified=None) == "lastVerified: a TRUSTED card needs lastVerified"


def test_wrong_values_name_the_guru_key() -> None:
    assert problem(lastVerified="last week").startswith("lastVerified: ")
    assert problem(verificationInterval=0).startswith("verificationInterval: ")
    assert problem(preferredPhrase=42).startswith("preferredPhrase: ")
    assert problem(content="<p> </p><script>x()</script>") == "content: has no text once the HTML is converted"
    assert problem(verifiers=[{"type": "robot"}]) == (
        "verifiers[0]: unknown verifier type 'robot'; expected user or user-group"
    )
    assert problem(tags=["refund"]).startswith("tags[0]: ")


def test_empty_or_missing_optional_guru_fields_fall_back() -> None:
    card = parsed(next(parse_guru(line(collection=None, owner=None, slug=None), "x.guru.jsonl")))
    assert card.collection == "general"
    assert card.owner is None
    assert card.url is None
    assert card.tags == ()


def test_a_broken_array_is_one_failure_with_line_and_column() -> None:
    bad = line().replace('"TRUSTED"', "TRUSTED")
    text = "[\n" + line() + ",\n" + bad + "\n]\n"
    (item,) = parse_guru(text, "x.guru.json")
    assert failure(item).location.line == 3
    assert failure(item).message == f"invalid JSON array: Expecting value (column {bad.index('TRUSTED') + 1})"
    (truncated,) = parse_guru("[\n" + line() + ",\n" + line()[:40], "x.guru.json")
    assert failure(truncated).location.line == 3
    assert failure(truncated).message.startswith("invalid JSON array: Unterminated string")


def test_array_items_that_are_not_objects_fail_alone() -> None:
    items = list(parse_guru(f"  [\n  {line()},\n  [1, 2],\n  {line()}\n]\n", "x.guru.json"))
    assert [item.location.line for item in items] == [2, 3, 4]
    assert isinstance(items[0], ParsedCard) and isinstance(items[2], ParsedCard)
    assert "JSON object" in failure(items[1]).message


def test_an_empty_array_gives_nothing_and_trailing_data_is_refused() -> None:
    assert list(parse_guru(" [ ] \n", "x.guru.json")) == []
    (item,) = parse_guru("[]\n]", "x.guru.json")
    assert failure(item).location.line == 2
    assert "extra data" in failure(item).message


def test_read_source_routes_guru_exports_to_the_guru_reader() -> None:
    items = list(read_source(FIXTURES))
    by_file = [Path(item.location.path).name for item in items]
    assert by_file.count(EXPORT) == 5
    assert by_file.count("broken.guru.jsonl") == 3
    cards = {item.card.id: item.card for item in items if isinstance(item, ParsedCard)}
    assert cards[STATUS_PAGE].verifier == "group:Incident Response"
    jsonl = list(read_source(FIXTURES / "broken.guru.jsonl"))
    assert "preferredPhrase: is required" in failure(jsonl[2]).message
