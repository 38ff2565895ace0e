"""The MCP tools like an agent uses them: the SDK's real client against `verity serve` (streamable HTTP at
/mcp) and against `verity mcp` (stdio), on the sample knowledge base with the real model and Chroma."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from rag.config import Settings
from tests.integration.conftest import GOLDEN_NOW, ROOT, VENV_BIN, clean_env, serve_verity
from tests.mcp_client import INITIALIZE, MCP_HEADERS, TOOLS, Session, structured, text

FINANCE_CARD = "billing-refund-approval-limits"  # groups: [finance]
FINANCE_QUESTION = "Up to what amount can a support agent approve a refund without finance?"
FINANCE_KEY = "integration-finance-key-5d1e"
PLAIN_KEY = "integration-plain-key-08c2"
TIMEOUT_S = 120.0


def golden(question_id: str) -> dict[str, Any]:
    for line in (ROOT / "evals" / "datasets" / "golden.jsonl").read_text(encoding="utf-8").splitlines():
        row: dict[str, Any] = json.loads(line)
        if row["id"] == question_id:
            return row
    raise KeyError(question_id)


def serve(sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[str]:
    """`verity serve` on its own copy of the ingested sample knowledge base (one process per store)."""
    data = tmp_path_factory.mktemp("mcp-served")
    shutil.copytree(sample_settings.data_dir, data, dirs_exist_ok=True)
    service, url = serve_verity(
        {"VERITY_DATA_DIR": str(data), "VERITY_FROZEN_NOW": GOLDEN_NOW, **env}, data / "server.log"
    )
    yield url
    service.stop()


@pytest.fixture(scope="module")
def gateway(sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """No read keys: the groups come from X-Verity-Groups, as set by a trusted gateway."""
    yield from serve(sample_settings, tmp_path_factory)


@pytest.fixture(scope="module")
def keyed(sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(sample_settings, tmp_path_factory, VERITY_READ_KEYS=f"{FINANCE_KEY}:finance,support;{PLAIN_KEY}:")


def over_http(server: str, session: Session, **headers: str) -> None:
    async def main() -> None:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=TIMEOUT_S) as http,
            Client(streamable_http_client(f"{server}/mcp", http_client=http)) as client,
        ):
            await session(client)

    anyio.run(main)


def test_tools_are_listed_and_each_answers(gateway: str) -> None:
    async def session(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        for tool in tools.values():
            assert "verified" in (tool.description or "")
        assert all(code in (tools["ask"].description or "") for code in ("no_evidence", "only_unverified"))

        asked = structured(await client.call_tool("ask", {"question": "What does error E-4012 mean?"}))
        assert asked["outcome"] == "answered" and "[1]" in asked["answer"]
        assert asked["citations"][0]["card_id"] == "billing-failed-payment-e4012"
        assert asked["citations"][0]["verifier"] and asked["citations"][0]["verified_until"]

        found = structured(await client.call_tool("search", {"query": "OH-200-PWR power adapter", "top_k": 3}))
        assert found["results"][0]["card_id"] == "shipping-power-adapter"
        assert found["results"][0]["trust"]["status"] == "verified"

        card = structured(await client.call_tool("get_card", {"card_id": "billing-failed-payment-e4012"}))
        assert card["card"]["id"] == "billing-failed-payment-e4012" and card["status"] == "verified"

        message = "Merhaba, kartım E-4012 hatası ile reddedildi. Ne yapmalıyım?"
        drafted = structured(await client.call_tool("draft_reply", {"message": message, "context": "Pro plan"}))
        assert drafted["outcome"] == "drafted" and drafted["language"] == "tr"
        assert "billing-failed-payment-e4012" in [c["card_id"] for c in drafted["cards"]]
        assert "[1]" not in drafted["reply"]

    over_http(gateway, session)


@pytest.mark.parametrize("question_id", ["q074", "q082"])  # the only card is unverified / expired
def test_a_golden_refusal_over_mcp(gateway: str, question_id: str) -> None:
    row = golden(question_id)

    async def session(client: Client) -> None:
        refused = structured(await client.call_tool("ask", {"question": row["question"]}))
        assert refused["outcome"] == "refused" and refused["answer"] is None and refused["citations"] == []
        assert refused["refusal"]["reason"] == row["expected_outcome"]
        candidates = refused["refusal"]["candidates"]
        assert candidates[0]["card_id"] in row["expected_card_ids"]
        assert candidates[0]["verifier"]

    over_http(gateway, session)


def test_bad_arguments_are_tool_errors(gateway: str) -> None:
    async def session(client: Client) -> None:
        for tool, arguments, message in (
            ("ask", {"question": ""}, "question"),
            ("ask", {"question": "refunds", "top_k": 500}, "top_k"),
            ("get_card", {"card_id": "no-such-card"}, "no card 'no-such-card'"),
            ("draft_reply", {}, "message"),
        ):
            result = await client.call_tool(tool, arguments)
            assert result.is_error and message in text(result), (tool, text(result))

    over_http(gateway, session)


def finance_card(expect_visible: bool) -> Session:
    """The finance-only card in every tool: visible in all of them, or not a trace of it in any."""

    async def session(client: Client) -> None:
        asked = structured(await client.call_tool("ask", {"question": FINANCE_QUESTION}))
        found = structured(await client.call_tool("search", {"query": "refund approval limits"}))
        drafted = structured(await client.call_tool("draft_reply", {"message": FINANCE_QUESTION}))
        card = await client.call_tool("get_card", {"card_id": FINANCE_CARD})
        if expect_visible:
            assert asked["outcome"] == "answered" and asked["citations"][0]["card_id"] == FINANCE_CARD
            assert FINANCE_CARD in [hit["card_id"] for hit in found["results"]]
            assert FINANCE_CARD in json.dumps(drafted)
            assert structured(card)["card"]["id"] == FINANCE_CARD
        else:
            for seen in (asked, found, drafted):
                assert FINANCE_CARD not in json.dumps(seen) and "USD 200" not in json.dumps(seen)
            missing = await client.call_tool("get_card", {"card_id": "billing-no-such-card"})
            assert card.is_error and missing.is_error
            assert text(card).replace(FINANCE_CARD, "ID") == text(missing).replace("billing-no-such-card", "ID")

    return session


def test_without_the_group_the_finance_card_is_invisible(gateway: str) -> None:
    over_http(gateway, finance_card(expect_visible=False))
    over_http(gateway, finance_card(expect_visible=False), **{"X-Verity-Groups": "support"})


def test_the_gateway_group_opens_the_finance_card(gateway: str) -> None:
    over_http(gateway, finance_card(expect_visible=True), **{"X-Verity-Groups": "finance"})


def test_with_read_keys_mcp_needs_a_key_that_holds_the_groups(keyed: str) -> None:
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer wrong-key"}, 401),
        ({"Authorization": f"Bearer {PLAIN_KEY}", "X-Verity-Groups": "finance"}, 403),
        ({"Authorization": f"Bearer {FINANCE_KEY}"}, 200),
    ):
        response = httpx.post(f"{keyed}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=30)
        assert response.status_code == status, (headers, response.text)
        if status != 200:
            assert response.headers["content-type"] == "application/problem+json"
            assert FINANCE_CARD not in response.text
    rest = httpx.post(f"{keyed}/v1/ask", json={"question": FINANCE_QUESTION}, timeout=30)
    assert rest.status_code == 401  # the same rule as the REST API


def test_with_read_keys_a_key_sees_only_its_groups(keyed: str) -> None:
    over_http(keyed, finance_card(expect_visible=False), Authorization=f"Bearer {PLAIN_KEY}")
    over_http(keyed, finance_card(expect_visible=True), Authorization=f"Bearer {FINANCE_KEY}")
    narrowed = {"Authorization": f"Bearer {FINANCE_KEY}", "X-Verity-Groups": "support"}
    over_http(keyed, finance_card(expect_visible=False), **narrowed)


def over_stdio(sample_settings: Settings, tmp_path: Path, args: list[str], session: Session) -> None:
    data = tmp_path / "store"
    shutil.copytree(sample_settings.data_dir, data)
    env = clean_env(VERITY_DATA_DIR=str(data), VERITY_FROZEN_NOW=GOLDEN_NOW)
    params = StdioServerParameters(command=str(VENV_BIN / "verity"), args=["mcp", *args], env=env)

    async def main() -> None:
        async with Client(params, read_timeout_seconds=TIMEOUT_S) as client:
            await session(client)

    anyio.run(main)


def test_stdio_server_with_its_group(sample_settings: Settings, tmp_path: Path) -> None:
    async def session(client: Client) -> None:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        await finance_card(expect_visible=True)(client)
        refused = structured(await client.call_tool("ask", {"question": golden("q082")["question"]}))
        assert refused["refusal"]["reason"] == "only_expired"

    over_stdio(sample_settings, tmp_path, ["--group", "finance"], session)


def test_stdio_server_without_the_group(sample_settings: Settings, tmp_path: Path) -> None:
    over_stdio(sample_settings, tmp_path, [], finance_card(expect_visible=False))


def test_stdio_server_refuses_to_start_without_a_key_when_keys_are_set(tmp_path: Path) -> None:
    env = clean_env(VERITY_DATA_DIR=str(tmp_path), VERITY_READ_KEYS=f"{FINANCE_KEY}:finance")
    done = subprocess.run(
        [str(VENV_BIN / "verity"), "mcp", "--group", "finance"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "--key-file" in done.stderr and FINANCE_KEY not in done.stderr
