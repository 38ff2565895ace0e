"""What each use records (rag/services/events/builders.py), through Verity over fakes, and through the app."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app, runtime_lifespan
from rag.adapters.state.events import SqlEventLog
from rag.config import Settings
from rag.domain.clock import FixedClock
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.events import CardRole, Channel, Event, EventKind, EventOutcome
from rag.domain.types import Asker, RefusalReason
from rag.services.ask import Verity
from rag.services.events.recording import EventRecorder, RecorderPolicy
from tests.fakes import ListEventSink
from tests.unit.conftest import BATTERY, CHARGEBACK, NOW, REFUND, WRITE_KEY, World

SUPPORT = Asker(frozenset({"support"}), "key-1a2b")


class BrokenSink:
    def record(self, event: Event) -> None:
        raise RuntimeError("the recorder has a bug")


def recording(world: World, channel: Channel = Channel.HTTP) -> tuple[Verity, ListEventSink]:
    sink = ListEventSink()
    return world.verity.recording(sink, channel), sink


def test_an_answer_records_its_cited_cards_and_no_vector(world: World) -> None:
    world.ingest(REFUND, BATTERY)
    verity, sink = recording(world)
    verity.ask("Can Pro Annual plans be refunded within 30 days?", SUPPORT)
    [event] = sink.events
    assert (event.kind, event.channel, event.outcome, event.reason) == (
        EventKind.ASK,
        Channel.HTTP,
        EventOutcome.ANSWERED,
        None,
    )
    assert event.card_ids(CardRole.CITED) == ("refund",)
    assert (event.groups, event.subject, event.at) == (SUPPORT.groups, "key-1a2b", NOW)
    assert event.question == "Can Pro Annual plans be refunded within 30 days?"
    assert event.vector is None  # only refusals feed the gap inbox


def test_a_refusal_records_its_reason_candidates_and_the_question_vector(world: World) -> None:
    world.ingest(REFUND, BATTERY)
    verity, sink = recording(world, Channel.MCP)
    verity.ask("How is the hub battery replaced by the customer?", SUPPORT)
    [event] = sink.events
    assert (event.channel, event.outcome, event.reason) == (
        Channel.MCP,
        EventOutcome.REFUSED,
        RefusalReason.ONLY_UNVERIFIED,
    )
    assert event.card_ids(CardRole.CANDIDATE) == ("battery",)
    assert event.vector is not None and len(event.vector) == world.embedder.dim


def test_search_check_and_draft_are_recorded(world: World) -> None:
    world.ingest(REFUND, BATTERY)
    verity, sink = recording(world)
    verity.search("refund Pro Annual", SUPPORT)
    verity.check_reply("Pro Annual plans can be refunded in full within 30 days of purchase.", SUPPORT)
    verity.draft_reply("What is the weather like in Lisbon tomorrow?", SUPPORT)
    search, check, draft = sink.events
    assert (search.kind, search.outcome) == (EventKind.SEARCH, EventOutcome.ANSWERED)
    assert "refund" in search.card_ids(CardRole.CITED) and "battery" not in search.card_ids(CardRole.CITED)
    assert (check.kind, check.outcome, check.card_ids(CardRole.CITED)) == (
        EventKind.CHECK,
        EventOutcome.ANSWERED,
        ("refund",),
    )
    assert (draft.kind, draft.outcome, draft.reason) == (
        EventKind.DRAFT,
        EventOutcome.REFUSED,
        RefusalReason.NO_EVIDENCE,
    )
    assert draft.vector is not None


def test_a_streamed_answer_is_recorded_once_its_result_is_out(world: World) -> None:
    world.ingest(REFUND)
    verity, sink = recording(world)
    stream = verity.ask_stream("Can Pro Annual plans be refunded within 30 days?", SUPPORT)
    assert sink.events == []
    list(stream)
    assert [e.outcome for e in sink.events] == [EventOutcome.ANSWERED]


def test_a_broken_recorder_never_fails_an_answer(world: World) -> None:
    world.ingest(REFUND)
    verity = world.verity.recording(BrokenSink(), Channel.HTTP)
    assert verity.ask("Can Pro Annual plans be refunded within 30 days?", SUPPORT).answer is not None


def test_without_keep_text_no_question_text_is_stored(world: World) -> None:
    world.ingest(REFUND)
    log = SqlEventLog("sqlite://")
    recorder = EventRecorder(log, FixedClock(NOW), RecorderPolicy(keep_text=False))
    world.verity.recording(recorder, Channel.HTTP).ask("Can Pro Annual plans be refunded?", SUPPORT)
    assert recorder.flush()
    [stored] = log.between(NOW - timedelta(1), NOW + timedelta(1))
    assert stored.event.question is None and stored.event.card_ids(CardRole.CITED) == ("refund",)
    recorder.close()


def test_the_app_records_http_and_mcp_asks_and_a_down_log_loses_no_answer(world: World) -> None:
    world.ingest(REFUND, CHARGEBACK)
    runtime = world.runtime(Settings(write_keys=SecretStr(WRITE_KEY)))
    app = create_app(lifespan=runtime_lifespan(lambda: runtime))
    with TestClient(app) as client:
        assert (
            client.post("/v1/ask", json={"question": "Can Pro Annual plans be refunded within 30 days?"}).status_code
            == 200
        )
        assert app.state.recorder.flush()
        [stored] = app.state.event_log.between(NOW - timedelta(1), NOW + timedelta(1))
        assert stored.event.channel is Channel.HTTP and stored.event.card_ids(CardRole.CITED) == ("refund",)

    def down(_settings: Settings) -> SqlEventLog:
        class Down(SqlEventLog):
            def append(self, batch: object) -> None:
                raise VerityError(ErrorCode.STORE_UNAVAILABLE, "the state store is down")

        return Down("sqlite://")

    app = create_app(lifespan=runtime_lifespan(lambda: runtime, open_events=down))
    with TestClient(app) as client:
        response = client.post("/v1/ask", json={"question": "Can Pro Annual plans be refunded within 30 days?"})
        assert response.status_code == 200 and response.json()["answer"] is not None
        assert app.state.recorder.flush(timeout=30)
        assert app.state.recorder.stats().failed == 1
