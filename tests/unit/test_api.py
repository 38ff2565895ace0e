"""The HTTP layer over a runtime built from fakes, through the real lifespan (`with TestClient(app)`)."""

import pytest
from fastapi.testclient import TestClient


def test_ask_answers_with_citations(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "Can Pro Annual plans be refunded within 30 days?"})
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "answered"
    assert body["refusal"] is None
    assert body["answer"].endswith("[1]")
    citation = body["citations"][0]
    assert citation["card_id"] == "refund"
    assert set(citation) >= {"title", "url", "verifier", "verified_at", "verified_until", "snippet"}


def test_ask_refuses_with_reason_and_candidates(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "How is the hub battery replaced by the customer?"}).json()
    assert body["outcome"] == "refused"
    assert body["answer"] is None
    assert body["citations"] == []
    assert body["refusal"]["reason"] == "only_unverified"
    assert body["refusal"]["candidates"][0]["card_id"] == "battery"
    assert "screwdriver" not in str(body)


def test_groups_in_the_request_open_restricted_cards(client: TestClient) -> None:
    question = {"question": "Within how many days does finance answer chargeback disputes?"}
    assert client.post("/v1/ask", json=question).json()["refusal"]["reason"] == "no_evidence"
    assert client.post("/v1/ask", json={**question, "groups": ["finance"]}).json()["outcome"] == "answered"


def test_search_returns_trust_facts(client: TestClient) -> None:
    results = client.post("/v1/search", json={"query": "hub battery", "top_k": 3}).json()["results"]
    battery = next(r for r in results if r["card_id"] == "battery")
    assert battery["trust"]["status"] == "unverified"
    assert battery["snippet"] is None
    assert all(isinstance(r["relevance"], float) for r in results)


def test_scored_cards_carry_rank_score_relevance_and_the_deprecated_score_alias(client: TestClient) -> None:
    answered = client.post("/v1/ask", json={"question": "Can Pro Annual plans be refunded within 30 days?"}).json()
    refused = client.post("/v1/ask", json={"question": "How is the hub battery replaced by the customer?"}).json()
    hits = client.post("/v1/search", json={"query": "hub battery", "top_k": 3}).json()["results"]
    for card in [*answered["citations"], *refused["refusal"]["candidates"], *hits]:
        assert 0.0 <= card["relevance"] <= 1.0
        assert card["score"] == card["rank_score"]  # the old name, for one release


def test_openapi_marks_score_deprecated_where_rank_score_replaces_it(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("CitationPublic", "CandidatePublic", "SearchHitPublic"):
        properties = schemas[name]["properties"]
        assert {"rank_score", "relevance", "score"} <= set(properties), name
        assert properties["score"]["deprecated"] is True, name
        assert "deprecated" not in properties["rank_score"], name


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({}, "body.question"),
        ({"question": ""}, "body.question"),
        ({"question": 42}, "body.question"),
        ({"question": "ok", "top_k": 0}, "body.top_k"),
        ({"question": "ok", "top_k": "many"}, "body.top_k"),
        ({"question": "ok", "groups": "finance"}, "body.groups"),
        ({"question": "ok", "groups": ["Finance Team"]}, "body.groups.0"),
        ({"question": "ok", "colour": "blue"}, "body.colour"),
    ],
)
def test_bad_requests_get_a_422_problem(client: TestClient, payload: dict[str, object], where: str) -> None:
    response = client.post("/v1/ask", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["code"] == "invalid_request"
    assert where in [e["location"] for e in problem["errors"]]


def test_a_blank_or_too_long_question_is_a_422_problem(client: TestClient) -> None:
    for question in ("   ", "x" * 5000):
        response = client.post("/v1/ask", json={"question": question})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


def test_malformed_json_is_a_4xx_problem(client: TestClient) -> None:
    response = client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_paths_and_methods_are_problems(client: TestClient) -> None:
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = client.get("/v1/ask")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405


def test_health_reveals_no_counts(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["store"] == "embedded"
    assert not any(isinstance(v, int) for v in body.values())


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/search", "/healthz"} <= set(paths)


def test_every_error_code_has_its_status_and_a_problem_of_that_status() -> None:
    from api.http.errors import STATUS_OF
    from rag.domain.errors import ErrorCode

    assert set(STATUS_OF) == set(ErrorCode)
    assert all(400 <= status <= 599 for status in STATUS_OF.values())
    assert STATUS_OF[ErrorCode.FORBIDDEN] == 403 and STATUS_OF[ErrorCode.INTERNAL] == 500
