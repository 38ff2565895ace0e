"""Limits on what one request can cost (issue 16): body size and time, keys before the body, question tokens,
and how many questions are embedded at once. The HTTP side is driven through the real app and lifespan with
scripted ASGI messages, so a test knows exactly how many body bytes the app pulled."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from mcp import Client
from pydantic import SecretStr, ValidationError
from starlette.types import Message, Receive, Scope, Send

from api.app import ROUTERS, catalog_for, create_app, runtime_lifespan
from api.http.key_gate import Need, route_need
from api.http.limits import RequestLimitMiddleware
from api.mcp.tools import build_mcp_server, fixed_asker
from rag.answering.extractive import ExtractivePolicy
from rag.answering.tokens import count_tokens
from rag.bootstrap import Runtime
from rag.config import Settings
from rag.domain.cards import MAX_BODY_CHARS
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker
from rag.ports import Vectors
from rag.services.ask import AskPolicy, Verity
from rag.services.limits import EmbedderBusyError, EmbedGate, LimitedEmbedder, QuestionLimit, limited, token_counter
from tests.builders import make_card
from tests.fakes import HashEmbedder, plain_calibration
from tests.mcp_client import text
from tests.unit.conftest import CHARGEBACK, REFUND, World

READ_KEY = "k-read-5c1d"
WRITE_KEY = "k-write-9e2b"
REFUND_QUESTION = "Can Pro Annual plans be refunded within 30 days?"
LONG_QUESTION = "Can Pro Annual plans be refunded within 30 days of purchase, and how long until the card is credited?"


@dataclass
class Answer:
    """What the app sent for one request, and how much of the body it asked for."""

    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int  # body chunks handed to the app
    starts: int = 0  # http.response.start messages: exactly one, whoever answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Script:
    """The client's side: body chunks, then the end of the body or a stall."""

    chunks: Sequence[bytes]
    stall: bool = False
    pulled: int = 0
    sent: list[Message] = field(default_factory=list)

    async def receive(self) -> Message:
        if self.pulled < len(self.chunks):
            self.pulled += 1
            more = self.stall or self.pulled < len(self.chunks)
            return {"type": "http.request", "body": self.chunks[self.pulled - 1], "more_body": more}
        await anyio.sleep_forever()  # stalled mid-body, or the body is in and the client awaits the answer
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def http_scope(method: str, path: str, headers: dict[str, str]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "verity", **headers}.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("verity", 80),
    }


async def _call(app: Any, scope: Scope, script: Script) -> Answer:
    await app(scope, script.receive, script.send)
    starts = [m for m in script.sent if m["type"] == "http.response.start"]
    body = b"".join(m.get("body", b"") for m in script.sent if m["type"] == "http.response.body")
    response_headers = {k.decode(): v.decode() for k, v in starts[0]["headers"]} if starts else {}
    status = starts[0]["status"] if starts else 0
    return Answer(status, response_headers, body, script.pulled, len(starts))


def call(
    app: FastAPI,
    method: str,
    path: str,
    chunks: Sequence[bytes] = (),
    headers: dict[str, str] | None = None,
    *,
    stall: bool = False,
    declare_length: bool = True,
) -> Answer:
    """One request through the app with its real lifespan."""
    headers = {"content-type": "application/json", **(headers or {})}
    if declare_length:
        headers["content-length"] = str(sum(len(c) for c in chunks))
    else:
        headers["transfer-encoding"] = "chunked"

    async def main() -> Answer:
        async with app.router.lifespan_context(app):
            return await _call(app, http_scope(method, path, headers), Script(chunks, stall))

    return anyio.run(main)


def verity_over(world: World, embedder: LimitedEmbedder) -> Verity:
    """The world's Verity over `embedder`, as rag/bootstrap.py builds it."""
    policy = AskPolicy(top_k=5, extractive=ExtractivePolicy(max_sentences=2, margin=0.05))
    return Verity(world.index, embedder, world.clock, policy, None, plain_calibration(0.35))


def app_with(world: World, config: Settings, embedder: LimitedEmbedder) -> FastAPI:
    world.ingest(REFUND, CHARGEBACK)
    runtime = Runtime(config, world.embedder, world.index, verity_over(world, embedder), world.clock)
    return create_app(lifespan=runtime_lifespan(lambda: runtime))


def app_of(world: World, **settings: Any) -> FastAPI:
    """The app over the world with a write key and these settings, limits included."""
    config = Settings(write_keys=SecretStr(WRITE_KEY), **settings)
    return app_with(world, config, limited(world.embedder, config))


def keyed(world: World, **settings: Any) -> FastAPI:
    return app_of(world, read_keys=SecretStr(f"{READ_KEY}:finance"), **settings)


def assert_problem(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.starts == 1
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status and problem["code"] == code
    return problem


# ---- body size


def test_the_settings_refuse_limits_that_make_no_sense() -> None:
    for bad in ({"max_body_bytes": 10}, {"body_timeout_s": 0}, {"max_question_tokens": 0}, {"embed_concurrency": 0}):
        with pytest.raises(ValidationError):
            Settings.model_validate(bad)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/ask"), ("PUT", "/v1/cards/refund"), ("POST", "/mcp"), ("GET", "/healthz"), ("POST", "/nowhere")],
)
def test_a_declared_body_over_the_limit_is_refused_before_a_byte_is_read(world: World, method: str, path: str) -> None:
    keys = {"authorization": f"Bearer {WRITE_KEY}"}
    answer = call(app_of(world, max_body_bytes=4096), method, path, [b"x" * 5000], keys)
    problem = assert_problem(answer, 413, "body_too_large")
    assert problem["limit_bytes"] == 4096 and "4096 bytes" in problem["detail"]
    assert answer.pulled == 0
    assert answer.headers["connection"] == "close"  # the server reads no more of it


def test_a_streamed_body_is_counted_and_cut_as_soon_as_it_passes_the_limit(world: World) -> None:
    chunks = [b" " * 1000] * 10  # chunked: no Content-Length to refuse up front
    answer = call(app_of(world, max_body_bytes=4096), "POST", "/v1/ask", chunks, declare_length=False)
    assert_problem(answer, 413, "body_too_large")
    assert answer.pulled == 5  # the fifth chunk passed 4096 bytes; the other five were never asked for
    assert answer.headers["connection"] == "close"


def test_a_body_within_the_limit_is_answered_as_before(world: World) -> None:
    body = json.dumps({"question": REFUND_QUESTION}).encode().ljust(1024)  # exactly at the limit
    answer = call(app_of(world, max_body_bytes=1024), "POST", "/v1/ask", [body[:20], body[20:]])
    assert answer.status == 200 and answer.json()["outcome"] == "answered"
    assert "connection" not in answer.headers


def test_the_default_limit_holds_the_largest_card_even_with_every_character_escaped(world: World) -> None:
    text = ("é" * 99 + " ") * (MAX_BODY_CHARS // 100)
    card = make_card(id="long", title="A long card", body=text, state="unverified")
    body = json.dumps(card.model_dump(mode="json"))  # ensure_ascii: 6 bytes per 'é', as Python clients send it
    assert len(text) == MAX_BODY_CHARS and len(body) > 5.9 * MAX_BODY_CHARS
    headers = {"authorization": f"Bearer {WRITE_KEY}", "content-type": "application/json"}
    with TestClient(app_of(world)) as client:
        # the route read the whole body and parsed a valid Card; the other id in the path stops it before ingest
        response = client.put("/v1/cards/elsewhere", content=body, headers=headers)
    assert response.status_code == 409 and "differs from the path's 'elsewhere'" in response.json()["detail"]
    assert Settings().max_body_bytes > len(body)


# ---- body time


def test_a_body_that_stalls_gets_408_and_the_connection_closed(world: World) -> None:
    started = time.monotonic()
    answer = call(app_of(world, body_timeout_s=0.3), "POST", "/v1/ask", [b'{"question": "Can Pro'], stall=True)
    problem = assert_problem(answer, 408, "body_timeout")
    assert 0.3 <= time.monotonic() - started < 3
    assert problem["limit_s"] == 0.3 and "0.3 s" in problem["detail"]
    assert answer.headers["connection"] == "close"


def test_once_the_body_is_in_waiting_for_a_disconnect_has_no_deadline() -> None:
    """A streamed answer listens for the client leaving long after the body arrived: that wait is not cut."""

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        with anyio.move_on_after(0.5):
            message = await receive()  # the client stays: nothing should come
            assert message["type"] != "http.disconnect", "the deadline cut the wait for a disconnect"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"stayed"})

    scope = http_scope("POST", "/slow", {"content-length": "2"})
    runtime = SimpleNamespace(settings=Settings(body_timeout_s=0.1))
    scope["app"] = SimpleNamespace(state=SimpleNamespace(runtime=runtime))  # what the middleware reads of the app
    answer = anyio.run(_call, RequestLimitMiddleware(slow), scope, Script([b"{}"]))
    assert answer.status == 200 and answer.body == b"stayed"


# ---- keys before the body


BODY_READS = ["/v1/ask", "/v1/search", "/v1/reply-drafts", "/v1/check", "/v1/feedback"]
MALFORMED = [b'{"question": ']


@pytest.mark.parametrize("path", BODY_READS)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {READ_KEY}", f"Bearer {WRITE_KEY}"])
def test_with_read_keys_a_body_without_a_read_key_is_refused_unread(
    world: World, path: str, authorization: str | None
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    answer = call(keyed(world), "POST", path, MALFORMED, headers)
    problem = assert_problem(answer, 401, "unauthorized")  # not 422: the body was never parsed
    assert "read key" in problem["detail"]
    assert answer.pulled == 0
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.headers["connection"] == "close"


@pytest.mark.parametrize("path", BODY_READS)
def test_with_the_read_key_the_same_body_is_parsed(world: World, path: str) -> None:
    answer = call(keyed(world), "POST", path, MALFORMED, {"authorization": f"Bearer {READ_KEY}"})
    assert_problem(answer, 422, "invalid_request")


@pytest.mark.parametrize("path", BODY_READS)
def test_behind_a_gateway_no_key_is_needed_to_read(world: World, path: str) -> None:
    assert_problem(call(app_of(world), "POST", path, MALFORMED), 422, "invalid_request")


def test_behind_a_gateway_a_question_is_answered_without_a_key(world: World) -> None:
    answer = call(app_of(world), "POST", "/v1/ask", [json.dumps({"question": REFUND_QUESTION}).encode()])
    assert answer.status == 200 and answer.json()["outcome"] == "answered"


@pytest.mark.parametrize("read_keys", [False, True])
@pytest.mark.parametrize(("method", "path"), [("PUT", "/v1/cards/refund"), ("POST", "/v1/cards/refund/verify")])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Bearer {READ_KEY}"])
def test_a_write_without_a_write_key_is_refused_unread(
    world: World, read_keys: bool, method: str, path: str, authorization: str | None
) -> None:
    app = keyed(world) if read_keys else app_of(world)
    answer = call(app, method, path, MALFORMED, {"authorization": authorization} if authorization else {})
    problem = assert_problem(answer, 401, "unauthorized")
    assert "write key" in problem["detail"]
    assert answer.pulled == 0


@pytest.mark.parametrize(("method", "path"), [("PUT", "/v1/cards/refund"), ("POST", "/v1/cards/refund/verify")])
def test_with_the_write_key_the_same_body_is_parsed(world: World, method: str, path: str) -> None:
    answer = call(keyed(world), method, path, MALFORMED, {"authorization": f"Bearer {WRITE_KEY}"})
    assert_problem(answer, 422, "invalid_request")


def test_mcp_keeps_checking_its_own_key_before_the_body(world: World) -> None:
    answer = call(keyed(world), "POST", "/mcp", MALFORMED, {"accept": "application/json, text/event-stream"})
    assert_problem(answer, 401, "unauthorized")
    assert answer.pulled == 0


@pytest.mark.parametrize("path", ["/healthz", "/", "/static/app.js", "/openapi.json", "/docs"])
def test_with_read_keys_the_open_routes_stay_open(world: World, path: str) -> None:
    with TestClient(keyed(world)) as client:
        assert client.get(path).status_code == 200


def test_a_refusal_without_a_body_keeps_the_connection(world: World) -> None:
    answer = call(keyed(world), "GET", "/v1/cards", declare_length=True)
    assert_problem(answer, 401, "unauthorized")  # by the dependency: a GET reads no body
    assert "connection" not in answer.headers


def test_what_each_route_needs_comes_from_its_own_dependencies() -> None:
    routes = [r for router in ROUTERS for r in router.routes]
    needs = {(m, r.path): route_need(r) for r in routes if isinstance(r, APIRoute) for m in r.methods or ()}
    writes = {k for k, need in needs.items() if need is Need.WRITE_KEY}
    reads = {k for k, need in needs.items() if need is Need.READ_KEY}
    assert writes == {
        ("PUT", "/v1/cards/{card_id}"),
        ("DELETE", "/v1/cards/{card_id}"),
        ("POST", "/v1/cards/{card_id}/verify"),
        ("POST", "/v1/cards/{card_id}/unverify"),
        ("GET", "/v1/feedback"),
        ("POST", "/v1/gaps/{gap_id}/close"),
    }
    assert reads == {
        ("POST", "/v1/ask"),
        ("POST", "/v1/search"),
        ("POST", "/v1/reply-drafts"),
        ("POST", "/v1/check"),
        ("POST", "/v1/feedback"),
        ("GET", "/v1/cards"),
        ("GET", "/v1/cards/{card_id}"),
        ("GET", "/v1/collections"),
        ("GET", "/v1/gaps"),
    }
    assert needs[("GET", "/healthz")] is Need.NOTHING


# ---- question tokens


def test_a_question_over_the_token_limit_is_refused_with_the_limit() -> None:
    limit = QuestionLimit(8, count_tokens)
    assert limit.check("refund") == 1
    with pytest.raises(VerityError) as refused:
        limit.check(LONG_QUESTION)
    assert refused.value.code is ErrorCode.INVALID_REQUEST
    assert f"has {count_tokens(LONG_QUESTION)} tokens; the limit is 8" in refused.value.message


class TokenAware(HashEmbedder):
    """A fake that counts tokens its own way (one per character), as the real embedders do theirs."""

    def __init__(self) -> None:
        super().__init__()
        self.questions: list[str] = []

    def query_token_count(self, text: str) -> int:
        return len(text)

    def embed_query(self, text: str) -> Vectors:
        self.questions.append(text)
        return super().embed_query(text)


def test_tokens_are_counted_by_the_embedder_when_it_can_else_as_cl100k() -> None:
    assert token_counter(TokenAware())("ééé") == 3
    assert token_counter(HashEmbedder()) is count_tokens


def test_a_refused_question_is_never_embedded() -> None:
    inner = TokenAware()
    embedder = LimitedEmbedder(inner, QuestionLimit(10, inner.query_token_count), EmbedGate(1, 0))
    with pytest.raises(VerityError):
        embedder.embed_query("x" * 11)
    embedder.embed_query("x" * 10)
    assert inner.questions == ["x" * 10]
    assert embedder.embed_passages(["y" * 100]).shape == (1, inner.dim)  # batches are Verity's own: not limited


@pytest.mark.parametrize(
    ("path", "field"),
    [("/v1/ask", "question"), ("/v1/search", "query"), ("/v1/reply-drafts", "message"), ("/v1/check", "text")],
)
def test_every_http_entry_point_applies_the_token_limit(world: World, path: str, field: str) -> None:
    with TestClient(app_of(world, max_question_tokens=12, max_message_tokens=12)) as client:
        refused = client.post(path, json={field: LONG_QUESTION})
        accepted = client.post(path, json={field: REFUND_QUESTION})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert "the limit is 12" in refused.json()["detail"]
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("ask", {"question": LONG_QUESTION}),
        ("search", {"query": LONG_QUESTION}),
        ("draft_reply", {"message": LONG_QUESTION}),
        ("check_reply", {"text": LONG_QUESTION}),
    ],
)
def test_every_mcp_tool_applies_the_token_limit(world: World, tool: str, arguments: dict[str, Any]) -> None:
    world.ingest(REFUND)
    verity = verity_over(world, limited(world.embedder, Settings(max_question_tokens=12, max_message_tokens=12)))
    runtime = Runtime(Settings(), world.embedder, world.index, verity, world.clock)
    server = build_mcp_server(verity, catalog_for(runtime), fixed_asker(Asker(frozenset())))

    async def main() -> None:
        async with Client(server) as client:
            result = await client.call_tool(tool, arguments)
            assert result.is_error and "the limit is 12" in text(result)

    anyio.run(main)


def test_a_customer_message_may_be_longer_than_a_question(world: World) -> None:
    """Reply drafts take a customer's message, under VERITY_MAX_MESSAGE_TOKENS, not the question limit."""
    with TestClient(app_of(world, max_question_tokens=12, max_message_tokens=200)) as client:
        question = client.post("/v1/ask", json={"question": LONG_QUESTION})
        message = client.post("/v1/reply-drafts", json={"message": LONG_QUESTION})
    assert question.status_code == 422
    assert message.status_code == 200


def test_the_core_refuses_it_too_for_the_command_line(world: World) -> None:
    verity = verity_over(world, limited(world.embedder, Settings(max_question_tokens=12)))
    with pytest.raises(VerityError, match="the limit is 12"):
        verity.ask(LONG_QUESTION, Asker(frozenset()))


# ---- embeddings at once


class Held(TokenAware):
    """Each question waits until the test lets it go; `started` is the order in which they got a slot."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def embed_query(self, text: str) -> Vectors:
        vector = super().embed_query(text)  # recorded as started
        assert self.release.wait(5)
        return vector


@dataclass
class Askers:
    """Questions asked from their own threads through one limited embedder."""

    inner: Held
    embedder: LimitedEmbedder
    threads: list[threading.Thread] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    def ask(self, text: str) -> None:
        def run() -> None:
            try:
                self.embedder.embed_query(text)
            except VerityError as exc:
                self.errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def settle(self, running: int, waiting: int) -> None:
        deadline = time.monotonic() + 5
        gate = self.embedder.gate
        while (gate.running, gate.waiting) != (running, waiting):
            assert time.monotonic() < deadline, (gate.running, gate.waiting)
            time.sleep(0.005)

    def finish(self) -> None:
        self.inner.release.set()
        for thread in self.threads:
            thread.join(5)


@contextmanager
def askers(concurrency: int, queue: int) -> Iterator[Askers]:
    inner = Held()
    gate = EmbedGate(concurrency, queue)
    asking = Askers(inner, LimitedEmbedder(inner, QuestionLimit(1000, inner.query_token_count), gate))
    try:
        yield asking
    finally:
        asking.finish()


def test_at_most_n_embed_at_once_a_bounded_queue_waits_and_the_rest_are_busy() -> None:
    with askers(concurrency=2, queue=2) as asking:
        for question in ("one", "two", "three", "four"):
            asking.ask(question)
        asking.settle(running=2, waiting=2)
        assert sorted(asking.inner.questions) == ["one", "two"]
        with pytest.raises(EmbedderBusyError, match="busy"):
            asking.embedder.embed_query("five")
        asking.finish()
        assert sorted(asking.inner.questions) == ["four", "one", "three", "two"] and not asking.errors
        assert (asking.embedder.gate.running, asking.embedder.gate.waiting) == (0, 0)


def test_the_cheapest_waiting_question_goes_first() -> None:
    costly = "a costly question " * 10
    with askers(concurrency=1, queue=2) as asking:
        asking.ask("first")
        asking.settle(running=1, waiting=0)
        asking.ask(costly)
        asking.settle(running=1, waiting=1)
        asking.ask("short")
        asking.settle(running=1, waiting=2)
        asking.finish()
        assert asking.inner.questions == ["first", "short", costly]


def test_a_question_that_waited_too_long_is_busy() -> None:
    gate = EmbedGate(1, 1, max_wait_s=0.1)
    with gate.slot():
        with pytest.raises(EmbedderBusyError), gate.slot():
            pass
        assert (gate.running, gate.waiting) == (1, 0)
    assert (gate.running, gate.waiting) == (0, 0)


def test_busy_is_429_with_retry_after_over_http_and_a_tool_error_over_mcp(world: World) -> None:
    config = Settings(embed_concurrency=1, embed_queue=0)
    embedder = limited(world.embedder, config)
    app = app_with(world, config, embedder)
    with TestClient(app) as client:
        with embedder.gate.slot():  # someone else's question holds the only slot
            response = client.post("/v1/ask", json={"question": REFUND_QUESTION})
        server = build_mcp_server(app.state.runtime.verity, app.state.catalog, fixed_asker(Asker(frozenset())))

        async def main() -> None:
            async with Client(server) as mcp:
                with embedder.gate.slot():
                    result = await mcp.call_tool("ask", {"question": REFUND_QUESTION})
                assert result.is_error and "busy" in text(result)

        anyio.run(main)
        assert client.post("/v1/ask", json={"question": REFUND_QUESTION}).status_code == 200
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "busy"
