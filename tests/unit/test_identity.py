"""Identity by read key: parsing VERITY_READ_KEYS, resolving a caller, and the REST endpoints under keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from api.app import create_app, runtime_lifespan
from api.http.auth import GroupNotHeldError, bearer_token, key_subject, matching_key
from api.http.deps import Caller, ReadKeyResolver, TrustedGatewayResolver, resolver_for
from api.mcp.stdio import stdio_asker
from rag.bootstrap import Runtime
from rag.config import Settings, parse_read_keys
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker
from tests.unit.conftest import BATTERY, CHARGEBACK, REFUND, World

FINANCE_KEY = "k-finance-7f3a9c"
PLAIN_KEY = "k-plain-51be02"
READ_KEYS = f"{FINANCE_KEY}:finance,support; {PLAIN_KEY}:"
CHARGEBACK_QUESTION = "Within how many days does finance answer chargeback disputes?"


def test_read_keys_parse_into_keys_and_groups() -> None:
    assert parse_read_keys("") == {}
    assert parse_read_keys(" a1:finance, support ;b2:;") == {"a1": frozenset({"finance", "support"}), "b2": frozenset()}
    settings = Settings(read_keys=SecretStr(READ_KEYS))
    assert settings.read_key_groups()[PLAIN_KEY] == frozenset()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("topsecret", "entry 1 has no ':'"),
        ("a1:finance;topsecret", "entry 2 has no ':'"),
        (":finance", "entry 1: the key is empty"),
        ("top secret:finance", "holds whitespace"),
        ("a1:Finance Team", "is not a group name"),
        ("a1:finance;a1:support", "repeats an earlier key"),
    ],
)
def test_a_malformed_read_key_setting_is_a_startup_error_that_does_not_show_the_keys(
    value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERITY_READ_KEYS", value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert message in str(raised.value)
    assert "topsecret" not in str(raised.value) and "top secret" not in str(raised.value)


def test_bearer_tokens_and_key_matching() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
    assert matching_key("abc", ["x", "abc"]) == "abc"
    assert matching_key("ab", ["x", "abc"]) is None
    assert matching_key(None, ["abc"]) is None
    assert key_subject("abc") == key_subject("abc") != key_subject("abd")
    assert "abc" not in key_subject("abc")


def test_a_key_gives_its_groups_and_a_request_may_only_narrow_them() -> None:
    resolver = ReadKeyResolver({FINANCE_KEY: frozenset({"finance", "support"}), PLAIN_KEY: frozenset()})
    finance = resolver.caller(f"Bearer {FINANCE_KEY}")
    assert finance.asker([]).groups == {"finance", "support"}
    assert finance.asker(["support"]).groups == {"support"}
    assert finance.asker([]).subject == key_subject(FINANCE_KEY)
    with pytest.raises(GroupNotHeldError) as raised:
        finance.asker(["support", "legal"])
    assert raised.value.groups == ["legal"]
    plain = resolver.caller(f"Bearer {PLAIN_KEY}")
    assert plain.asker([]).groups == frozenset()
    with pytest.raises(GroupNotHeldError):
        plain.asker(["finance"])


@pytest.mark.parametrize("authorization", [None, "", "Bearer nope", f"Basic {FINANCE_KEY}", f"Bearer {FINANCE_KEY}x"])
def test_a_missing_or_unknown_key_is_unauthorized(authorization: str | None) -> None:
    resolver = ReadKeyResolver({FINANCE_KEY: frozenset({"finance"})})
    with pytest.raises(VerityError) as raised:
        resolver.caller(authorization)
    assert raised.value.code is ErrorCode.UNAUTHORIZED


def test_without_read_keys_the_stated_groups_are_taken_as_they_are() -> None:
    resolver = resolver_for(Settings())
    assert isinstance(resolver, TrustedGatewayResolver)
    assert resolver.caller(None).asker(["finance"]) == Asker(frozenset({"finance"}), "gateway")
    assert resolver.caller("Bearer anything") == Caller("gateway", None)
    assert isinstance(resolver_for(Settings(read_keys=SecretStr(READ_KEYS))), ReadKeyResolver)


def test_the_stdio_asker_follows_the_same_rule(tmp_path: Path) -> None:
    assert stdio_asker(Settings(), ["finance"], None).groups == {"finance"}
    keyed = Settings(read_keys=SecretStr(READ_KEYS))
    key_file = tmp_path / "key"
    key_file.write_text(FINANCE_KEY + "\n")
    assert stdio_asker(keyed, [], key_file).groups == {"finance", "support"}
    assert stdio_asker(keyed, ["finance"], key_file).groups == {"finance"}
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    for settings, groups, path, message in (
        (keyed, [], None, "give a read key with --key-file"),
        (keyed, [], wrong, "not a read key"),
        (keyed, ["legal"], key_file, "does not hold"),
        (keyed, [], tmp_path / "missing", "cannot read --key-file"),
        (Settings(), [], key_file, "VERITY_READ_KEYS is not set"),
        (Settings(), ["Finance Team"], None, "--group: 'Finance Team' is not a group name"),
    ):
        with pytest.raises(VerityError, match=message):
            stdio_asker(settings, groups, path)


@pytest.fixture
def keyed(world: World) -> Iterator[TestClient]:
    """The REST API over fakes with read keys set."""
    world.ingest(REFUND, BATTERY, CHARGEBACK)
    settings = Settings(read_keys=SecretStr(READ_KEYS))
    runtime = Runtime(settings, world.embedder, world.index, world.verity, world.clock)
    with TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime))) as c:
        yield c


FINANCE = {"Authorization": f"Bearer {FINANCE_KEY}"}
PLAIN = {"Authorization": f"Bearer {PLAIN_KEY}"}
READS = [
    ("POST", "/v1/ask", {"question": CHARGEBACK_QUESTION}),
    ("POST", "/v1/ask", {"question": CHARGEBACK_QUESTION, "stream": True}),
    ("POST", "/v1/search", {"query": "chargeback disputes"}),
    ("POST", "/v1/reply-drafts", {"message": CHARGEBACK_QUESTION}),
    ("GET", "/v1/cards", None),
    ("GET", "/v1/cards/chargeback", None),
    ("GET", "/v1/collections", None),
]


@pytest.mark.parametrize(("method", "url", "body"), READS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {FINANCE_KEY}"}])
def test_with_read_keys_every_read_needs_a_valid_key(
    keyed: TestClient, method: str, url: str, body: dict[str, object] | None, headers: dict[str, str]
) -> None:
    response = keyed.request(method, url, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "chargeback" not in response.text.replace(url, "")


def test_a_request_without_a_key_learns_nothing_from_its_body(keyed: TestClient) -> None:
    assert keyed.post("/v1/ask", json={"colour": "blue"}).status_code == 401
    assert keyed.post("/v1/ask", json={"colour": "blue"}, headers=PLAIN).status_code == 422


def test_a_key_sees_the_cards_of_its_groups(keyed: TestClient) -> None:
    question = {"question": CHARGEBACK_QUESTION}
    plain = keyed.post("/v1/ask", json=question, headers=PLAIN).json()
    assert plain["refusal"]["reason"] == "no_evidence"
    assert "chargeback" not in str(plain["refusal"]) and plain["citations"] == []
    finance = keyed.post("/v1/ask", json=question, headers=FINANCE).json()
    assert finance["outcome"] == "answered" and finance["citations"][0]["card_id"] == "chargeback"
    assert keyed.get("/v1/cards/chargeback", headers=PLAIN).status_code == 404
    assert keyed.get("/v1/cards/chargeback", headers=FINANCE).status_code == 200
    assert "chargeback" not in keyed.get("/v1/cards", headers=PLAIN).text
    assert "chargeback" in keyed.get("/v1/cards", headers=FINANCE).text
    narrowed = keyed.post("/v1/ask", json={**question, "groups": ["support"]}, headers=FINANCE).json()
    assert narrowed["refusal"]["reason"] == "no_evidence"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/v1/ask", {"question": CHARGEBACK_QUESTION, "groups": ["finance"]}),
        ("POST", "/v1/search", {"query": "chargeback", "groups": ["finance"]}),
        ("POST", "/v1/reply-drafts", {"message": CHARGEBACK_QUESTION, "groups": ["finance"]}),
        ("GET", "/v1/cards/chargeback?groups=finance", None),
        ("GET", "/v1/cards?groups=finance", None),
        ("GET", "/v1/collections?groups=finance", None),
    ],
)
def test_stating_a_group_the_key_does_not_hold_is_forbidden(
    keyed: TestClient, method: str, url: str, body: dict[str, object] | None
) -> None:
    response = keyed.request(method, url, json=body, headers=PLAIN)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "forbidden"
    assert "'finance'" in problem["detail"]
    assert "chargeback" not in problem["detail"] and "billing" not in response.text
