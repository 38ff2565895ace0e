"""Write keys bound to groups: parsing VERITY_WRITE_KEYS (old and new form), and the card write endpoints
under such keys: a card the key may not see is answered exactly as a missing one, and a card may only be
written into groups the key holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import SecretStr, ValidationError

from api.app import create_app, runtime_lifespan
from api.http.auth import GroupNotHeldError, WriteKey, key_subject
from rag.config import Settings, parse_write_keys
from rag.services.catalog import Writer
from tests.builders import make_card
from tests.unit.conftest import BATTERY, CHARGEBACK, REFUND, World

FINANCE_KEY = "w-finance-3c81d7"
PLAIN_KEY = "w-plain-9a04e2"
WRITE_KEYS = f"{FINANCE_KEY}:finance,support; {PLAIN_KEY}:"
HIDDEN, MISSING = "chargeback", "chargebacx"  # the same length: the answers must match byte for byte


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def card_json(**overrides: object) -> dict[str, object]:
    return make_card(**overrides).model_dump(mode="json")


def test_write_keys_parse_in_the_new_form_and_the_old() -> None:
    assert parse_write_keys("") == {}
    assert parse_write_keys(" a1, b2 ,") == {"a1": None, "b2": None}  # no ':' anywhere: every card
    assert parse_write_keys(" a1:finance, support ;b2:;") == {
        "a1": frozenset({"finance", "support"}),
        "b2": frozenset(),
    }
    settings = Settings(write_keys=SecretStr(WRITE_KEYS))
    assert settings.write_key_groups() == {FINANCE_KEY: frozenset({"finance", "support"}), PLAIN_KEY: frozenset()}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("topsecret;other", "has ';' but no ':'"),
        ("topsecret,other:finance", "entry 1: the key holds ','"),
        ("a1:finance;topsecret", "VERITY_WRITE_KEYS entry 2 has no ':'"),
        ("top secret:finance", "holds whitespace"),
        ("a1:Finance Team", "is not a group name"),
        ("a1:finance;a1:support", "repeats an earlier key"),
    ],
)
def test_a_malformed_write_key_setting_is_a_startup_error_that_does_not_show_the_keys(
    value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERITY_WRITE_KEYS", value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert message in str(raised.value)
    assert "topsecret" not in str(raised.value) and "top secret" not in str(raised.value)


def test_a_key_writes_only_into_groups_it_holds() -> None:
    finance = WriteKey(subject=key_subject(FINANCE_KEY), held=frozenset({"finance", "support"}))
    assert finance.writer(into=["finance"]) == Writer(groups=frozenset({"finance", "support"}))
    assert finance.writer() == finance.writer(into=[])  # a card open to everyone
    with pytest.raises(GroupNotHeldError) as raised:
        finance.writer(into=["finance", "legal", "hr"])
    assert raised.value.groups == ["hr", "legal"]
    unbound = WriteKey(subject="old", held=None)
    assert unbound.writer(into=["anything"]) == Writer(groups=None)
    with pytest.raises(GroupNotHeldError):
        WriteKey(subject="plain", held=frozenset()).writer(into=["finance"])


@pytest.fixture
def keyed(world: World) -> Iterator[TestClient]:
    """The card API with write keys bound to groups (reads stay open: no read keys)."""
    world.ingest(REFUND, BATTERY, CHARGEBACK)
    runtime = world.runtime(Settings(write_keys=SecretStr(WRITE_KEYS)))
    with TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime))) as c:
        yield c


def changes(client: TestClient, card_id: str, key: str) -> dict[str, Response]:
    """Every write endpoint but PUT on one card id (PUT adds a missing card, so it is compared apart)."""
    return {
        "delete": client.delete(f"/v1/cards/{card_id}", headers=as_key(key)),
        "verify": client.post(f"/v1/cards/{card_id}/verify", json={"verifier": "x@y"}, headers=as_key(key)),
        "unverify": client.post(f"/v1/cards/{card_id}/unverify", headers=as_key(key)),
    }


def assert_alike(hidden: Response, missing: Response) -> None:
    """The same 404 problem+json, byte for byte once the ids are swapped; nothing of the hidden card."""
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"] == "application/problem+json"
    assert hidden.json()["detail"] == f"no card {HIDDEN!r}"
    assert hidden.content.replace(HIDDEN.encode(), b"X") == missing.content.replace(MISSING.encode(), b"X")
    assert hidden.headers["content-length"] == missing.headers["content-length"]
    assert "Chargeback" not in hidden.text and "finance" not in hidden.text


def test_every_write_answers_a_hidden_card_exactly_as_a_missing_one(keyed: TestClient, world: World) -> None:
    before = world.index.cards[HIDDEN]
    hidden = changes(keyed, HIDDEN, PLAIN_KEY)
    missing = changes(keyed, MISSING, PLAIN_KEY)
    for name, response in hidden.items():
        assert_alike(response, missing[name])
    # PUT would replace the hidden card (even with a body the key may write): answered as DELETE of a missing id
    body = card_json(id=HIDDEN, title="Chargeback handling", body="Replaced by a writer who cannot see it.")
    assert_alike(keyed.put(f"/v1/cards/{HIDDEN}", json=body, headers=as_key(PLAIN_KEY)), missing["delete"])
    assert world.index.cards[HIDDEN] == before  # nothing was changed, nothing was deleted


def test_a_key_may_write_the_cards_of_its_groups(keyed: TestClient, world: World) -> None:
    unverified = keyed.post(f"/v1/cards/{HIDDEN}/unverify", headers=as_key(FINANCE_KEY))
    assert unverified.status_code == 200 and unverified.json()["status"] == "unverified"
    verified = keyed.post(
        f"/v1/cards/{HIDDEN}/verify", json={"verifier": "cfo@orbita.example"}, headers=as_key(FINANCE_KEY)
    )
    assert verified.json()["card"]["verifier"] == "cfo@orbita.example"
    replaced = card_json(
        id=HIDDEN, title="Chargeback handling", body="Finance answers within five days.", groups=["finance"]
    )
    assert keyed.put(f"/v1/cards/{HIDDEN}", json=replaced, headers=as_key(FINANCE_KEY)).json()["outcome"] == "updated"
    assert keyed.delete(f"/v1/cards/{HIDDEN}", headers=as_key(FINANCE_KEY)).status_code == 204
    assert HIDDEN not in world.index.cards


def test_a_key_without_groups_writes_only_cards_open_to_everyone(keyed: TestClient) -> None:
    assert keyed.post("/v1/cards/refund/unverify", headers=as_key(PLAIN_KEY)).status_code == 200
    added = keyed.put("/v1/cards/open", json=card_json(id="open"), headers=as_key(PLAIN_KEY))
    assert added.json()["outcome"] == "added"
    into_finance = keyed.put("/v1/cards/open", json=card_json(id="open", groups=["finance"]), headers=as_key(PLAIN_KEY))
    assert into_finance.status_code == 403


def test_put_into_groups_not_held_is_forbidden_and_names_only_the_bodys_groups(keyed: TestClient) -> None:
    answers = [
        keyed.put(
            f"/v1/cards/{card_id}",
            json=card_json(id=card_id, groups=["finance", "hr", "legal"]),
            headers=as_key(FINANCE_KEY),
        )
        for card_id in ("refund", HIDDEN, MISSING)  # visible, hidden to other keys, missing: all alike
    ]
    for response in answers:
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "forbidden"
        assert "'hr'" in body["detail"] and "'legal'" in body["detail"] and "finance" not in body["detail"]
    assert len({r.json()["detail"] for r in answers}) == 1
    plain = keyed.put(f"/v1/cards/{HIDDEN}", json=card_json(id=HIDDEN, groups=["finance"]), headers=as_key(PLAIN_KEY))
    assert plain.status_code == 403  # the body's groups are judged first: this says nothing about the stored card
    assert "Chargeback" not in plain.text


def test_a_key_may_move_a_card_it_sees_into_its_groups_and_then_other_keys_lose_it(keyed: TestClient) -> None:
    moved = card_json(id="refund", title=REFUND.title, body=REFUND.body, groups=["finance"])
    assert keyed.put("/v1/cards/refund", json=moved, headers=as_key(FINANCE_KEY)).json()["outcome"] == "updated"
    assert keyed.post("/v1/cards/refund/unverify", headers=as_key(PLAIN_KEY)).status_code == 404
    assert keyed.get("/v1/cards/refund").status_code == 404
    assert keyed.get("/v1/cards/refund", params={"groups": ["finance"]}).status_code == 200


def test_a_blank_verifier_is_a_422_not_a_500() -> None:
    """Found by schemathesis: `{"verifier": "\\t"}` passed the request schema and failed inside the card (500)."""
    from api.schemas import VerifyRequest

    with pytest.raises(ValueError):
        VerifyRequest(verifier="\t")
