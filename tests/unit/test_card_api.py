"""The card API over fakes: auth, upsert/delete/verify semantics, visibility of reads and counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.domain.types import Asker
from rag.ports import WriteOutcome
from rag.services.catalog import Catalog
from tests.builders import make_card
from tests.fakes import InMemoryCardIndex
from tests.unit.conftest import CHARGEBACK, NOW, REFUND, WRITE_KEY, World

AUTH = {"Authorization": f"Bearer {WRITE_KEY}"}
QUESTION = {"question": "Can Pro Annual plans be refunded within 30 days?"}


def card_json(**overrides: object) -> dict[str, object]:
    return make_card(**overrides).model_dump(mode="json")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {WRITE_KEY}"}, {"Authorization": "Bearer "}],
)
def test_writes_need_a_valid_bearer_key(client: TestClient, headers: dict[str, str]) -> None:
    for method, url, body in (
        ("PUT", "/v1/cards/new", card_json(id="new")),
        ("DELETE", "/v1/cards/refund", None),
        ("POST", "/v1/cards/refund/verify", {"verifier": "x@y"}),
        ("POST", "/v1/cards/refund/unverify", None),
    ):
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (method, url)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/v1/cards/refund").status_code == 200  # reads need no key


def test_the_second_configured_key_works_too(client: TestClient) -> None:
    response = client.put("/v1/cards/new", json=card_json(id="new"), headers={"Authorization": "Bearer second-key"})
    assert response.status_code == 200


def test_put_adds_updates_and_skips_unchanged(client: TestClient) -> None:
    body = card_json(id="new", title="Seat limits", body="The Starter plan allows at most ten seats per workspace.")
    assert client.put("/v1/cards/new", json=body, headers=AUTH).json()["outcome"] == "added"
    assert client.put("/v1/cards/new", json=body, headers=AUTH).json()["outcome"] == "unchanged"
    changed = {**body, "body": "The Starter plan allows at most twelve seats per workspace."}
    assert client.put("/v1/cards/new", json=changed, headers=AUTH).json()["outcome"] == "updated"
    stored = client.get("/v1/cards/new").json()
    assert stored["card"]["body"].endswith("twelve seats per workspace.")
    assert stored["status"] == "verified"


def test_put_refuses_a_mismatched_or_invalid_card(client: TestClient) -> None:
    mismatch = client.put("/v1/cards/one", json=card_json(id="two"), headers=AUTH)
    assert mismatch.status_code == 409
    invalid = client.put("/v1/cards/one", json={**card_json(id="one"), "state": "approved"}, headers=AUTH)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    bad_path = client.put("/v1/cards/has%20space", json={**card_json(id="x"), "id": "has space"}, headers=AUTH)
    assert bad_path.status_code == 422


def test_a_deleted_card_is_never_retrievable_again(client: TestClient) -> None:
    assert client.post("/v1/ask", json=QUESTION).json()["outcome"] == "answered"
    assert client.delete("/v1/cards/refund", headers=AUTH).status_code == 204
    assert client.get("/v1/cards/refund").status_code == 404
    after = client.post("/v1/ask", json=QUESTION).json()
    assert after["outcome"] == "refused"
    assert after["refusal"]["candidates"] == []
    assert "refund" not in [r["card_id"] for r in client.post("/v1/search", json={"query": "refund"}).json()["results"]]
    assert client.delete("/v1/cards/refund", headers=AUTH).status_code == 404


def test_unverify_takes_effect_when_the_call_returns_and_verify_restores(client: TestClient, world: World) -> None:
    assert client.post("/v1/cards/refund/unverify", headers=AUTH).json()["status"] == "unverified"
    refused = client.post("/v1/ask", json=QUESTION).json()
    assert refused["refusal"]["reason"] == "only_unverified"
    world.clock.set(NOW + timedelta(days=3))
    verified = client.post("/v1/cards/refund/verify", json={"verifier": "lead@orbita.example"}, headers=AUTH).json()
    assert verified["status"] == "verified"
    assert verified["card"]["verifier"] == "lead@orbita.example"
    assert verified["card"]["verified_at"].startswith("2026-11-25")
    answered = client.post("/v1/ask", json=QUESTION).json()
    assert answered["outcome"] == "answered"
    assert answered["citations"][0]["verifier"] == "lead@orbita.example"


def test_verify_a_missing_card_is_404(client: TestClient) -> None:
    response = client.post("/v1/cards/nope/verify", json={"verifier": "x@y"}, headers=AUTH)
    assert response.status_code == 404


def test_restricted_cards_look_like_missing_ones_and_are_not_counted(client: TestClient) -> None:
    hidden = client.get("/v1/cards/chargeback")
    missing = client.get("/v1/cards/no-such-card")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("chargeback", "X") == missing.json()["detail"].replace("no-such-card", "X")
    assert client.get("/v1/cards/chargeback", params={"groups": ["finance"]}).status_code == 200
    public_ids = [c["id"] for c in client.get("/v1/cards").json()["cards"]]
    assert "chargeback" not in public_ids
    public_total = sum(c["cards"] for c in client.get("/v1/collections").json()["collections"])
    finance_total = sum(
        c["cards"] for c in client.get("/v1/collections", params={"groups": ["finance"]}).json()["collections"]
    )
    assert finance_total == public_total + 1


def test_list_filters_by_state_collection_and_expiry(client: TestClient) -> None:
    cards = client.get("/v1/cards", params={"state": "unverified"}).json()["cards"]
    assert [c["id"] for c in cards] == ["battery"]
    soon = client.get("/v1/cards", params={"expiring_within_days": 2}).json()["cards"]
    assert [c["id"] for c in soon] == ["refund"]  # verified 89 days ago with a 90-day interval
    billing = client.get("/v1/cards", params={"collection": "billing", "state": "verified"}).json()["cards"]
    assert {c["id"] for c in billing} == {"refund", "internal"}
    assert client.get("/v1/cards", params={"state": "bogus"}).status_code == 422


def test_collections_report_a_trust_score(client: TestClient) -> None:
    scores = {c["collection"]: c for c in client.get("/v1/collections").json()["collections"]}
    billing = scores["billing"]
    assert billing["cards"] == billing["verified"] + billing["expired"] + billing["unverified"]
    assert billing["trust_score"] == pytest.approx(billing["verified"] / billing["cards"], abs=1e-4)


def test_a_key_of_the_old_comma_separated_form_writes_every_card(client: TestClient) -> None:
    # conftest's write keys have no ':': keys that write every card, finance-only ones included
    assert client.post("/v1/cards/chargeback/unverify", headers=AUTH).json()["status"] == "unverified"
    restricted = card_json(id="new", groups=["finance", "legal"])
    assert client.put("/v1/cards/new", json=restricted, headers=AUTH).json()["outcome"] == "added"
    assert client.delete("/v1/cards/chargeback", headers=AUTH).status_code == 204


class ReadsRecorded(InMemoryCardIndex):
    """The fake index, noting the ids read without a visibility filter."""

    def __init__(self) -> None:
        super().__init__()
        self.unfiltered: list[str] = []

    def get_card(self, card_id: str) -> Card | None:
        self.unfiltered.append(card_id)
        return super().get_card(card_id)


class NoWrites:
    def write(self, card: Card) -> WriteOutcome:
        raise AssertionError("reads never write")


def test_reading_one_card_leaves_visibility_to_the_store() -> None:
    # a hidden card is never read, let alone parsed: refusing it costs what refusing a missing id costs
    index = ReadsRecorded()
    index.cards.update({CHARGEBACK.id: CHARGEBACK, REFUND.id: REFUND})
    catalog = Catalog(index, NoWrites(), FixedClock(NOW))
    assert catalog.get("chargeback", Asker()) is None
    assert catalog.get("no-such-card", Asker()) is None
    view = catalog.get("chargeback", Asker(groups=frozenset({"finance"})))
    assert view is not None and view.card == CHARGEBACK
    assert catalog.get("refund", Asker()) is not None
    assert index.unfiltered == []
