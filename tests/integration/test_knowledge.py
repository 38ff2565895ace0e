"""The knowledge team's side against the real server: refused questions recorded and grouped into gaps across
languages (the real model), on HTTP and `verity gaps`; and an event log that cannot open loses no answer."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.config import Settings
from tests.integration.conftest import ROOT, RunVerity, Service, serve_verity

pytestmark = pytest.mark.slow

SUPPORT_GAPS = ROOT / "evals" / "datasets" / "gaps-support.jsonl"


def topic(name: str) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in SUPPORT_GAPS.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["topic"] == name]


@pytest.fixture
def data(sample_settings: Settings, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(sample_settings.data_dir, copy)
    return copy


@pytest.fixture
def server(data: Path) -> Iterator[tuple[Service, str]]:
    service, url = serve_verity({"VERITY_DATA_DIR": str(data)}, data / "server.log")
    yield service, url
    service.stop()


def test_refused_questions_in_five_languages_become_one_gap(
    server: tuple[Service, str], data: Path, run_verity: RunVerity
) -> None:
    _, url = server
    asked = topic("zapier-integration") + topic("hub-wall-mount")
    refused = 0
    for row in asked:
        body = httpx.post(f"{url}/v1/ask", json={"question": row["question"]}, timeout=60).json()
        refused += body["refusal"] is not None and body["refusal"]["reason"] == "no_evidence"
    assert refused >= len(asked) // 2, "the sample knowledge base covers neither topic"
    gaps = httpx.get(f"{url}/v1/gaps", params={"days": 1}, timeout=60).json()["gaps"]
    assert sum(g["count"] for g in gaps) == refused  # every refusal recorded once, in one gap
    top = gaps[0]
    assert len(top["languages"]) >= 4, top  # one topic asked in several languages is one gap
    examples = {e["question"] for e in top["examples"]}
    topics = {r["topic"] for r in asked if r["question"] in examples}
    assert len(topics) == 1, top
    for card in top["nearest_cards"]:
        assert card["owner"] is not None
    cli = run_verity("gaps", "--days", "1", "--json", VERITY_DATA_DIR=str(data))
    assert cli.returncode == 0, cli.stderr
    assert [g["id"] for g in json.loads(cli.stdout)["gaps"]] == [g["id"] for g in gaps]


def test_an_event_log_that_cannot_open_loses_no_answer(data: Path) -> None:
    env = {"VERITY_DATA_DIR": str(data), "VERITY_DATABASE_URL": "sqlite:////proc/verity-cannot-write-here/state.db"}
    service, url = serve_verity(env, data / "server.log")
    try:
        for _ in range(3):
            response = httpx.post(f"{url}/v1/ask", json={"question": "Can Pro Annual plans be refunded?"}, timeout=60)
            assert response.status_code == 200 and response.json()["answer"] is not None
        gaps = httpx.get(f"{url}/v1/gaps", timeout=60)
        assert gaps.status_code == 503 and gaps.headers["content-type"] == "application/problem+json"
    finally:
        service.stop()
    log = (data / "server.log").read_text(encoding="utf-8")
    assert "events will not be recorded" in log
    assert "events lost" in log
