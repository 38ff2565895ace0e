"""The MCP tools over fakes, through the SDK's own client: in process, and over HTTP through the app's gate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
import httpx2
import pytest
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from api.app import catalog_for, create_app, runtime_lifespan
from api.mcp.tools import build_mcp_server, fixed_asker
from api.schemas import AskPublic, CardPublic, CheckPublic, DraftPublic, SearchPublic
from rag.bootstrap import Runtime
from rag.config import Settings
from rag.domain.events import Channel, EventKind
from rag.domain.types import Asker
from tests.builders import make_card
from tests.mcp_client import INITIALIZE, MCP_HEADERS, TOOLS, Session, structured, text
from tests.unit.conftest import BATTERY, CHARGEBACK, EXPORT, NOW, REFUND, World

REFUND_QUESTION = "Can Pro Annual plans be refunded within 30 days?"
CHARGEBACK_QUESTION = "Within how many days does finance answer chargeback disputes?"
CHARGEBACK_SENTENCE = "Finance answers chargeback disputes within seven days."
INTERNAL = make_card(
    id="internal",
    title="Escalation contacts",
    body="Escalations after midnight go to the duty manager on the internal bridge line.",
    internal_only=True,
    verified_at=NOW - timedelta(days=1),
)
FINANCE_KEY = "k-finance-7f3a9c"
PLAIN_KEY = "k-plain-51be02"


def runtime_of(world: World, settings: Settings | None = None) -> Runtime:
    world.ingest(REFUND, BATTERY, EXPORT, CHARGEBACK, INTERNAL)
    return Runtime(settings or Settings(), world.embedder, world.index, world.verity, world.clock)


def in_process(world: World, groups: frozenset[str], session: Session) -> None:
    """Run `session` against the tools in process, asking as `groups`."""
    runtime = runtime_of(world)
    server = build_mcp_server(runtime.verity, catalog_for(runtime), fixed_asker(Asker(groups)))

    async def main() -> None:
        async with Client(server) as client:
            await session(client)

    anyio.run(main)


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    """The app with its real lifespan, reached over an in-process ASGI transport."""
    transport = httpx2.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx2.AsyncClient(transport=transport, base_url="http://x") as http:
        yield http


def over_http(app: FastAPI, headers: dict[str, str], session: Session) -> None:
    """Run `session` with the SDK's streamable HTTP client through the app's /mcp gate."""

    async def main() -> None:
        async with served(app) as http:
            http.headers.update(headers)
            async with Client(streamable_http_client("http://x/mcp", http_client=http)) as client:
                await session(client)

    anyio.run(main)


def test_tools_are_listed_with_what_an_agent_must_know(world: World) -> None:
    async def session(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        for tool in tools.values():
            assert "verified" in (tool.description or "")
            assert tool.output_schema is not None
            assert tool.annotations is not None and tool.annotations.read_only_hint
        for name in ("ask", "draft_reply"):
            description = tools[name].description or ""
            for code in ("no_evidence", "only_unverified", "only_expired"):
                assert code in description, (name, code)
        assert "cited" in (tools["ask"].description or "")
        assert "internal_only" in (tools["draft_reply"].description or "")
        check = tools["check_reply"].description or ""
        for word in ("supported", "not_supported", "not_covered", "internal_only", "quotable"):
            assert word in check, word
        assert "groups" not in tools["check_reply"].input_schema["properties"]
        assert "groups" not in tools["ask"].input_schema["properties"]  # the transport says who asks

    in_process(world, frozenset(), session)


def test_ask_answers_with_numbered_citations_like_the_rest_api(world: World) -> None:
    async def session(client: Client) -> None:
        answer = AskPublic.model_validate(structured(await client.call_tool("ask", {"question": REFUND_QUESTION})))
        assert answer.outcome == "answered"
        assert answer.answer is not None and answer.answer.endswith("[1]")
        citation = answer.citations[0]
        assert (citation.marker, citation.card_id) == (1, "refund")
        assert citation.verifier and citation.verified_until and citation.snippet in REFUND.body

    in_process(world, frozenset(), session)


@pytest.mark.parametrize(
    ("question", "reason", "card", "hidden_text"),
    [
        ("How is the hub battery replaced by the customer?", "only_unverified", "battery", "screwdriver"),
        ("How many rows does a data export file hold at most?", "only_expired", "export", "one million"),
    ],
)
def test_a_refusal_carries_its_reason_and_whom_to_ask_never_the_text(
    world: World, question: str, reason: str, card: str, hidden_text: str
) -> None:
    async def session(client: Client) -> None:
        result = await client.call_tool("ask", {"question": question})
        refused = AskPublic.model_validate(structured(result))
        assert refused.outcome == "refused" and refused.answer is None and refused.citations == []
        assert refused.refusal is not None and refused.refusal.reason.value == reason
        candidate = refused.refusal.candidates[0]
        assert candidate.card_id == card and candidate.verifier
        assert hidden_text not in json.dumps(result.structured_content) + text(result)

    in_process(world, frozenset(), session)


def test_search_ranks_cards_with_trust_facts(world: World) -> None:
    async def session(client: Client) -> None:
        found = SearchPublic.model_validate(structured(await client.call_tool("search", {"query": "hub battery"})))
        battery = next(hit for hit in found.results if hit.card_id == "battery")
        assert battery.trust.status.value == "unverified" and battery.snippet is None

    in_process(world, frozenset(), session)


def test_draft_reply_leaves_internal_notes_out(world: World) -> None:
    async def session(client: Client) -> None:
        drafted = DraftPublic.model_validate(
            structured(await client.call_tool("draft_reply", {"message": REFUND_QUESTION, "context": "Pro Annual"}))
        )
        assert drafted.outcome == "drafted" and "30 days" in drafted.reply
        assert [c.card_id for c in drafted.cards] == ["refund"]
        internal = DraftPublic.model_validate(
            structured(await client.call_tool("draft_reply", {"message": "Where do escalations after midnight go?"}))
        )
        assert internal.outcome == "needs_human" and internal.needs_human is not None
        assert internal.needs_human.reason.value == "internal_only"
        assert "bridge line" not in internal.reply

    in_process(world, frozenset(), session)


def test_check_reply_judges_each_sentence_and_marks_internal_notes(world: World) -> None:
    refund = "Pro Annual plans can be refunded in full within 30 days of purchase."
    note = "Escalations after midnight go to the duty manager on the internal bridge line."
    reply = f"{refund} [2] Pro Annual plans can be refunded in full within 45 days of purchase. {note} Hi there!"

    async def session(client: Client) -> None:
        checked = CheckPublic.model_validate(structured(await client.call_tool("check_reply", {"text": reply})))
        assert [s.status for s in checked.sentences] == ["supported", "not_supported", "supported", "not_covered"]
        assert checked.sentences[0].cards[0].card_id == "refund"
        assert refund in checked.sentences[0].cards[0].evidence[0]
        assert checked.sentences[1].reason == "unsupported_fact"
        internal = checked.sentences[2]
        assert internal.cards[0].internal_only and not internal.quotable_to_customer
        assert not checked.summary.quotable
        empty = await client.call_tool("check_reply", {"text": "[1]"})
        assert empty.is_error and "no sentence to check" in text(empty)

    in_process(world, frozenset(), session)


def test_a_hidden_card_is_answered_exactly_like_a_missing_one(world: World) -> None:
    async def session(client: Client) -> None:
        card = CardPublic.model_validate(structured(await client.call_tool("get_card", {"card_id": "refund"})))
        assert card.card.id == "refund" and card.status.value == "verified"
        hidden = await client.call_tool("get_card", {"card_id": "chargeback"})
        missing = await client.call_tool("get_card", {"card_id": "chargebacx"})
        assert hidden.is_error and missing.is_error
        assert text(hidden).replace("chargeback", "ID") == text(missing).replace("chargebacx", "ID")
        assert hidden.structured_content is None

    in_process(world, frozenset(), session)


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("ask", {}, "question"),
        ("ask", {"question": ""}, "question"),
        ("ask", {"question": "   "}, "the question is empty"),
        ("ask", {"question": "x" * 5000}, "the limit is 2000"),
        ("ask", {"question": "refunds", "top_k": 0}, "top_k"),
        ("search", {"query": 42}, "query"),
        ("get_card", {"card_id": "../etc/passwd"}, "card_id"),
        ("draft_reply", {"message": "refunds", "context": "   " * 2000 + "x" * 3000}, "ticket context"),
        ("nonexistent", {}, "nonexistent"),
    ],
)
def test_bad_arguments_are_tool_errors_with_a_clear_message(
    world: World, tool: str, arguments: dict[str, Any], message: str
) -> None:
    async def session(client: Client) -> None:
        result = await client.call_tool(tool, arguments)
        assert result.is_error
        assert message in text(result)
        assert "Traceback" not in text(result)

    in_process(world, frozenset(), session)


def _visibility(expect_visible: bool) -> Session:
    """Checks every tool for the finance-only chargeback card: visible in all of them, or in none."""

    async def session(client: Client) -> None:
        asked = structured(await client.call_tool("ask", {"question": CHARGEBACK_QUESTION}))
        searched = structured(await client.call_tool("search", {"query": "finance chargeback disputes"}))
        drafted = structured(await client.call_tool("draft_reply", {"message": CHARGEBACK_QUESTION}))
        checked = structured(await client.call_tool("check_reply", {"text": CHARGEBACK_SENTENCE}))
        card = await client.call_tool("get_card", {"card_id": "chargeback"})
        if expect_visible:
            assert asked["outcome"] == "answered" and asked["citations"][0]["card_id"] == "chargeback"
            assert searched["results"][0]["card_id"] == "chargeback"
            assert drafted["outcome"] == "drafted" and drafted["cards"][0]["card_id"] == "chargeback"
            assert structured(card)["card"]["id"] == "chargeback"
            assert checked["sentences"][0]["cards"][0]["card_id"] == "chargeback"
        else:
            assert asked["refusal"]["reason"] == "no_evidence"
            assert drafted["needs_human"]["reason"] == "no_evidence"
            assert checked["sentences"][0]["status"] == "not_covered"
            for seen in (asked, searched, drafted, checked):  # not its id, title or text
                for trace in ('"chargeback"', "Chargeback handling", "bank notice"):
                    assert trace not in json.dumps(seen)
            assert card.is_error and text(card).endswith("no card 'chargeback'")

    return session


@pytest.mark.parametrize("groups", [frozenset(), frozenset({"support"})])
def test_in_process_a_card_outside_the_groups_is_invisible_in_every_tool(world: World, groups: frozenset[str]) -> None:
    in_process(world, groups, _visibility(expect_visible=False))


def test_in_process_the_group_opens_the_card_in_every_tool(world: World) -> None:
    in_process(world, frozenset({"finance"}), _visibility(expect_visible=True))


def gateway_app(world: World) -> FastAPI:
    runtime = runtime_of(world)
    return create_app(lifespan=runtime_lifespan(lambda: runtime))


def keyed_app(world: World) -> FastAPI:
    runtime = runtime_of(world, Settings(read_keys=SecretStr(f"{FINANCE_KEY}:finance;{PLAIN_KEY}:")))
    return create_app(lifespan=runtime_lifespan(lambda: runtime))


def test_over_http_without_keys_the_gateway_header_states_the_groups(world: World) -> None:
    app = gateway_app(world)
    over_http(app, {}, _visibility(expect_visible=False))
    over_http(app, {"X-Verity-Groups": "support"}, _visibility(expect_visible=False))


def test_over_http_without_keys_the_gateway_header_opens_the_card(world: World) -> None:
    over_http(gateway_app(world), {"X-Verity-Groups": "support, finance"}, _visibility(expect_visible=True))


def test_over_http_a_key_sees_its_groups(world: World) -> None:
    over_http(keyed_app(world), {"Authorization": f"Bearer {PLAIN_KEY}"}, _visibility(expect_visible=False))


def test_over_http_the_key_with_the_group_sees_the_card(world: World) -> None:
    over_http(keyed_app(world), {"Authorization": f"Bearer {FINANCE_KEY}"}, _visibility(expect_visible=True))


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Bearer wrong"}, 401, "unauthorized"),
        ({"Authorization": f"Basic {FINANCE_KEY}"}, 401, "unauthorized"),
        ({"Authorization": f"Bearer {PLAIN_KEY}", "X-Verity-Groups": "finance"}, 403, "forbidden"),
        ({"Authorization": f"Bearer {FINANCE_KEY}", "X-Verity-Groups": "Finance Team"}, 422, "invalid_request"),
    ],
)
def test_over_http_the_gate_answers_problems_before_any_tool_runs(
    world: World, headers: dict[str, str], status: int, code: str
) -> None:
    async def main() -> None:
        async with served(keyed_app(world)) as http:
            response = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers})
            assert response.status_code == status
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == code
            assert "chargeback" not in response.text
            if status == 401:
                assert response.headers["www-authenticate"].startswith("Bearer")

    anyio.run(main)


def test_over_http_a_valid_key_reaches_the_mcp_server(world: World) -> None:
    async def main() -> None:
        async with served(keyed_app(world)) as http:
            headers = {**MCP_HEADERS, "Authorization": f"Bearer {FINANCE_KEY}"}
            response = await http.post("/mcp", json=INITIALIZE, headers=headers)
            assert response.status_code == 200
            assert response.json()["result"]["serverInfo"]["name"] == "verity"

    anyio.run(main)


def test_the_app_can_be_started_twice(world: World) -> None:
    """Each lifespan gets its own session manager (the SDK's runs once), so a test client can restart the app."""
    app = gateway_app(world)

    async def main() -> None:
        for _ in range(2):
            async with served(app) as http:
                assert (await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)).status_code == 200

    anyio.run(main)


def test_mcp_tool_calls_are_recorded_as_coming_through_mcp(world: World) -> None:
    app = gateway_app(world)

    async def session(client: Client) -> None:
        await client.call_tool("ask", {"question": "Can Pro Annual plans be refunded within 30 days?"})
        await client.call_tool("search", {"query": "refund"})

    over_http(app, {"X-Verity-Groups": "support"}, session)  # the app has shut down: its recorder wrote all
    events = [s.event for s in app.state.event_log.between(NOW - timedelta(1), NOW + timedelta(1))]
    assert [(e.kind, e.channel, e.groups) for e in events] == [
        (EventKind.ASK, Channel.MCP, frozenset({"support"})),
        (EventKind.SEARCH, Channel.MCP, frozenset({"support"})),
    ]


def test_list_gaps_shows_the_refused_questions_and_nothing_hidden(world: World) -> None:
    app = gateway_app(world)
    questions = ("Can customers download invoices as PDF files?", "invoices PDF download for customers")

    async def session(client: Client) -> None:
        for question in questions:
            await client.call_tool("ask", {"question": question})
        await client.call_tool("ask", {"question": "How fast are chargeback disputes answered after the bank notice?"})
        app.state.recorder.flush()
        listed = structured(await client.call_tool("list_gaps", {"days": 7}))
        assert sum(g["count"] for g in listed["gaps"]) == 3
        shown = json.dumps(listed)
        assert "invoices PDF" in shown
        for trace in ('"chargeback"', "Chargeback handling", "bank notice answered"):
            assert trace not in shown

    over_http(app, {"X-Verity-Groups": "support"}, session)
