from ingest.sources import CardFailure, ParsedCard, parse_jsonl, parse_markdown

GOOD = """---
id: billing-refund-annual
title: Refunds for Pro Annual plans
collection: billing
groups: [finance]
owner: ayse@orbita.example
verifier: joana@orbita.example
state: verified
verified_at: 2026-11-02T09:30:00Z
verify_interval_days: 365
tags: [refund]
language: en
internal_only: false
---
Pro Annual plans can be refunded in full within 30 days of purchase.
"""


def failure(item: object) -> CardFailure:
    assert isinstance(item, CardFailure), item
    return item


def test_a_markdown_card_is_read_with_its_body() -> None:
    item = parse_markdown(GOOD, "kb/billing/refund.md")
    assert isinstance(item, ParsedCard)
    assert item.card.id == "billing-refund-annual"
    assert item.card.groups == ("finance",)
    assert item.card.body == "Pro Annual plans can be refunded in full within 30 days of purchase."


def test_folder_gives_the_collection_when_the_card_has_none() -> None:
    text = GOOD.replace("collection: billing\n", "")
    item = parse_markdown(text, "kb/billing/eu/refund.md", default_collection="billing/eu")
    assert isinstance(item, ParsedCard)
    assert item.card.collection == "billing/eu"


def test_bad_yaml_is_reported_with_its_line() -> None:
    item = failure(parse_markdown(GOOD.replace("tags: [refund]", "tags: [refund"), "refund.md"))
    assert item.location.path == "refund.md"
    assert item.location.line is not None
    assert item.location.line >= 12
    assert "bad YAML" in item.message


def test_a_wrong_field_is_reported_at_its_line_with_the_card_id() -> None:
    item = failure(parse_markdown(GOOD.replace("state: verified", "state: approved"), "refund.md"))
    assert item.location.line == 8  # line 1 is the opening ---
    assert item.card_id == "billing-refund-annual"
    assert "state" in item.message
    assert "approved" in item.message


def test_missing_id_and_title_are_both_named() -> None:
    text = GOOD.replace("id: billing-refund-annual\n", "").replace("title: Refunds for Pro Annual plans\n", "")
    item = failure(parse_markdown(text, "refund.md"))
    assert "id: is required" in item.message
    assert "title: is required" in item.message


def test_a_file_without_front_matter_is_refused() -> None:
    assert "front matter" in failure(parse_markdown("# Just notes\n", "notes.md")).message


def test_an_unclosed_front_matter_is_refused() -> None:
    assert "not closed" in failure(parse_markdown("---\nid: x\n", "x.md")).message


def test_an_empty_body_is_refused() -> None:
    text = GOOD.split("---\n")[0] + "---\n" + GOOD.split("---\n")[1] + "---\n\n"
    assert "body" in failure(parse_markdown(text, "x.md")).message


def test_jsonl_failures_carry_their_line_and_good_lines_still_parse() -> None:
    lines = "\n".join(
        [
            '{"id": "a", "title": "A card", "body": "A body that is long enough.", "state": "unverified"}',
            "",
            "{not json",
            '{"id": "b", "title": "B", "body": "x", "state": "verified"}',
            "[1, 2]",
            '{"id": "c", "title": "C card", "body": "Another body.", "state": "unverified", '
            '"verify_interval_days": "x"}',
        ]
    )
    items = list(parse_jsonl(lines, "cards.jsonl"))
    assert isinstance(items[0], ParsedCard)
    assert items[0].location.line == 1
    assert [failure(i).location.line for i in items[1:]] == [3, 4, 5, 6]
    assert "invalid JSON" in failure(items[1]).message
    assert "verified_at" in failure(items[2]).message
    assert failure(items[2]).card_id == "b"
    assert "JSON object" in failure(items[3]).message
    assert str(failure(items[4])).startswith("cards.jsonl:6 (card c): verify_interval_days")
