"""Feedback: the SQLite store on `:memory:`, and POST/GET /v1/feedback through the real app over fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app, runtime_lifespan
from api.http.auth import key_subject
from api.http.deps import ReadKeyResolver
from api.routes.feedback import MAX_COMMENT_CHARS, get_feedback_store
from rag.adapters.state.feedback import FEEDBACK_FILE, NewFeedback, RatedOutcome, SQLiteFeedbackStore, Verdict
from rag.config import Settings
from rag.domain.clock import FixedClock
from rag.domain.errors import VerityError
from tests.unit.conftest import NOW, REFUND, WRITE_KEY, World

AUTH = {"Authorization": f"Bearer {WRITE_KEY}"}


def rating(**overrides: object) -> NewFeedback:
    fields: dict[str, object] = {
        "question": "Can Pro Annual plans be refunded?",
        "answer": "Pro Annual plans can be refunded in full within 30 days of purchase. [1]",
        "cited_card_ids": ("refund",),
        "outcome": RatedOutcome.ANSWERED,
        "reason": None,
        "verdict": Verdict.UP,
        "comment": None,
        "subject": "gateway",
        "groups": frozenset(),
    }
    fields.update(overrides)
    return NewFeedback(**fields)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def store(clock: FixedClock) -> Iterator[SQLiteFeedbackStore]:
    s = SQLiteFeedbackStore(":memory:", clock=clock)
    yield s
    s.close()


# ---- the store ----


def test_store_keeps_every_field_and_numbers_ratings(store: SQLiteFeedbackStore, clock: FixedClock) -> None:
    first = store.add(rating())
    clock.set(NOW + timedelta(minutes=5))
    second = store.add(
        rating(
            answer=None,
            cited_card_ids=("battery", "hub-2"),
            outcome=RatedOutcome.REFUSED,
            reason="only_unverified",
            verdict=Verdict.DOWN,
            comment="the battery card is what we need",
            groups=frozenset({"support", "billing"}),
        )
    )
    assert second.id > first.id
    newest, oldest = store.recent(limit=10)
    assert newest == second
    assert oldest == first
    assert newest.created_at == NOW + timedelta(minutes=5)
    assert newest.feedback.groups == frozenset({"billing", "support"})
    assert newest.feedback.cited_card_ids == ("battery", "hub-2")


def test_store_pages_newest_first(store: SQLiteFeedbackStore) -> None:
    ids = [store.add(rating(question=f"question {n}")).id for n in range(5)]
    page = store.recent(limit=2)
    assert [s.id for s in page] == [ids[4], ids[3]]
    assert [s.id for s in store.recent(limit=2, before_id=page[-1].id)] == [ids[2], ids[1]]
    assert [s.id for s in store.recent(limit=2, before_id=ids[0])] == []
    with pytest.raises(VerityError):
        store.recent(limit=0)


def test_store_text_is_data_not_sql(store: SQLiteFeedbackStore) -> None:
    hostile = "x'); DROP TABLE feedback; --"
    store.add(rating(question=hostile, comment=hostile))
    assert store.recent(limit=1)[0].feedback.question == hostile


def test_a_broken_database_is_store_unavailable_not_a_crash(store: SQLiteFeedbackStore) -> None:
    store.close()
    with pytest.raises(VerityError) as raised:
        store.add(rating())
    assert raised.value.code.value == "store_unavailable"


# ---- the endpoint ----


@pytest.fixture
def web(client: TestClient, store: SQLiteFeedbackStore) -> TestClient:
    client.app.dependency_overrides[get_feedback_store] = lambda: store  # type: ignore[attr-defined]
    return client


def body(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "question": "Can Pro Annual plans be refunded within 30 days?",
        "answer": "Pro Annual plans can be refunded in full within 30 days of purchase. [1]",
        "cited_card_ids": ["refund"],
        "outcome": "answered",
        "verdict": "up",
    }
    payload.update(overrides)
    return payload


def test_post_feedback_stores_it_and_answers_201_with_the_id(web: TestClient, store: SQLiteFeedbackStore) -> None:
    response = web.post("/v1/feedback", json=body(comment="  spot on  ", groups=["finance"]))
    assert response.status_code == 201
    saved = response.json()
    assert saved["id"] >= 1
    assert saved["comment"] == "spot on"
    assert saved["subject"] == "gateway"  # the identity dependency resolved the asker, as for /v1/ask
    assert saved["groups"] == ["finance"]
    stored = store.recent(limit=1)[0]
    assert stored.id == saved["id"]
    assert stored.feedback.verdict is Verdict.UP
    assert stored.feedback.cited_card_ids == ("refund",)


def test_a_refusal_is_rated_with_its_reason(web: TestClient, store: SQLiteFeedbackStore) -> None:
    response = web.post(
        "/v1/feedback",
        json=body(answer=None, cited_card_ids=["battery"], outcome="refused", reason="only_unverified", verdict="down"),
    )
    assert response.status_code == 201
    assert store.recent(limit=1)[0].feedback.reason == "only_unverified"


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (body(verdict="sideways"), "body.verdict"),
        (body(question="   "), "body.question"),
        (body(question="q" * 4001), "body.question"),
        (body(answer="a" * 20_001), "body.answer"),
        (body(comment="c" * (MAX_COMMENT_CHARS + 1)), "body.comment"),
        (body(cited_card_ids=["ok"] * 51), "body.cited_card_ids"),
        (body(cited_card_ids=["bad id with spaces"]), "body.cited_card_ids.0"),
        (body(outcome="maybe"), "body.outcome"),
        (body(outcome="refused"), "body"),  # a refusal needs its reason
        (body(reason="no_evidence"), "body"),  # an answer has none
        (body(outcome="refused", reason="internal_only"), "body"),
        (body(groups=["Finance Team"]), "body.groups.0"),
        (body(rating=5), "body.rating"),
        ({k: v for k, v in body().items() if k != "verdict"}, "body.verdict"),
    ],
)
def test_bad_feedback_is_a_422_problem(web: TestClient, payload: dict[str, object], where: str) -> None:
    response = web.post("/v1/feedback", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert where in [e["location"] for e in response.json()["errors"]]


def test_malformed_feedback_json_is_a_4xx_problem(web: TestClient) -> None:
    response = web.post("/v1/feedback", content=b"{nope", headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {WRITE_KEY}"}])
def test_listing_feedback_needs_the_write_key(web: TestClient, headers: dict[str, str]) -> None:
    web.post("/v1/feedback", json=body(comment="private remark"))
    response = web.get("/v1/feedback", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "private remark" not in response.text


def test_listing_feedback_pages_newest_first(web: TestClient) -> None:
    ids = [web.post("/v1/feedback", json=body(question=f"question {n}")).json()["id"] for n in range(3)]
    first = web.get("/v1/feedback", params={"limit": 2}, headers=AUTH).json()
    assert [f["id"] for f in first["feedback"]] == [ids[2], ids[1]]
    assert first["next_before"] == ids[1]
    rest = web.get("/v1/feedback", params={"limit": 2, "before": first["next_before"]}, headers=AUTH).json()
    assert [f["id"] for f in rest["feedback"]] == [ids[0]]
    assert rest["next_before"] is None
    assert rest["feedback"][0]["question"] == "question 0"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"limit": "all"}, {"before": 0}])
def test_bad_listing_parameters_are_422(web: TestClient, params: dict[str, str | int]) -> None:
    response = web.get("/v1/feedback", params=params, headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_store_that_is_down_is_a_503_problem(web: TestClient, store: SQLiteFeedbackStore) -> None:
    store.close()
    response = web.post("/v1/feedback", json=body())
    assert response.status_code == 503
    assert response.json()["code"] == "store_unavailable"
    assert response.headers["retry-after"] == "5"


# ---- identity: the same rules as /v1/ask ----

READ_KEY = "k-support-2c81"


@pytest.fixture
def keyed(world: World, store: SQLiteFeedbackStore) -> Iterator[TestClient]:
    """An app whose reads need a key (as with VERITY_READ_KEYS set): this key holds support and billing."""
    world.ingest(REFUND)
    runtime = world.runtime(Settings(write_keys=SecretStr(WRITE_KEY)))
    resolver = ReadKeyResolver({READ_KEY: frozenset({"support", "billing"})})
    app = create_app(lifespan=runtime_lifespan(lambda: runtime, resolver))
    app.dependency_overrides[get_feedback_store] = lambda: store
    with TestClient(app) as c:
        yield c


def test_under_read_keys_feedback_needs_a_key_and_records_its_holder(
    keyed: TestClient, store: SQLiteFeedbackStore
) -> None:
    refused = keyed.post("/v1/feedback", json=body(), headers={"Authorization": "Bearer not-a-key"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert store.recent(limit=1) == []

    saved = keyed.post("/v1/feedback", json=body(), headers={"Authorization": f"Bearer {READ_KEY}"}).json()
    assert saved["subject"] == key_subject(READ_KEY)
    assert saved["groups"] == ["billing", "support"]  # the key's groups, not whatever the body said


def test_under_read_keys_a_group_the_key_does_not_hold_is_403(keyed: TestClient, store: SQLiteFeedbackStore) -> None:
    headers = {"Authorization": f"Bearer {READ_KEY}"}
    narrowed = keyed.post("/v1/feedback", json=body(groups=["billing"]), headers=headers)
    assert narrowed.status_code == 201
    assert narrowed.json()["groups"] == ["billing"]
    widened = keyed.post("/v1/feedback", json=body(groups=["finance"]), headers=headers)
    assert widened.status_code == 403
    assert widened.headers["content-type"] == "application/problem+json"
    assert len(store.recent(limit=10)) == 1


def test_a_write_key_bound_to_groups_cannot_list_ratings(world: World, store: SQLiteFeedbackStore) -> None:
    """Ratings hold questions about any card (a finance question, its answer): only a key of every card reads
    them; a key of some groups gets 403 and none of their text."""
    runtime = world.runtime(Settings(write_keys=SecretStr(f"{WRITE_KEY}:support")))
    app = create_app(lifespan=runtime_lifespan(lambda: runtime))
    app.dependency_overrides[get_feedback_store] = lambda: store
    with TestClient(app) as client:
        client.post("/v1/feedback", json=body(question="What is the finance team's wire IBAN?"))
        response = client.get("/v1/feedback", headers=AUTH)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "IBAN" not in response.text


def test_the_app_opens_its_store_at_startup_and_closes_it_at_shutdown(world: World, store: SQLiteFeedbackStore) -> None:
    runtime = world.runtime(Settings())
    with TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime, open_feedback=lambda _: store))) as client:
        assert client.post("/v1/feedback", json=body()).status_code == 201
    with pytest.raises(VerityError) as raised:
        store.add(rating())  # closed with the app
    assert raised.value.code.value == "store_unavailable"


def test_by_default_the_store_is_the_sqlite_file_in_the_data_dir(world: World, tmp_path: Path) -> None:
    runtime = world.runtime(Settings(data_dir=tmp_path / "data"))
    with TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime))) as client:
        assert (tmp_path / "data" / FEEDBACK_FILE).is_file()
        saved = client.post("/v1/feedback", json=body()).json()
    reopened = SQLiteFeedbackStore(tmp_path / "data" / FEEDBACK_FILE)
    assert [s.id for s in reopened.recent(limit=5)] == [saved["id"]]
    reopened.close()


def test_a_store_that_cannot_be_opened_does_not_stop_the_server(world: World, tmp_path: Path) -> None:
    """Ratings answer 503, as when the store was opened on the first rating; everything else is served."""
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    runtime = world.runtime(Settings(data_dir=blocked))
    world.ingest(REFUND)
    with TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime))) as client:
        rated = client.post("/v1/feedback", json=body())
        asked = client.post("/v1/ask", json={"question": "Can Pro Annual plans be refunded within 30 days?"})
    assert rated.status_code == 503
    assert rated.json()["code"] == "store_unavailable"
    assert asked.status_code == 200
