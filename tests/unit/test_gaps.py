"""The gap inbox over fakes: refused questions grouped, ranked, shown without anything a reader may not see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app, runtime_lifespan
from rag.adapters.state.events import SqlEventLog
from rag.config import Settings
from rag.domain.errors import VerityError
from rag.domain.events import Channel, Event
from rag.domain.types import Asker
from rag.services.gaps.grouping import GroupingPolicy
from rag.services.gaps.inbox import GapInbox, GapPolicy, GapStatus
from tests.fakes import ListEventSink
from tests.unit.conftest import BATTERY, CHARGEBACK, NOW, REFUND, WRITE_KEY, World

PUBLIC = Asker(subject="agent-1")
FINANCE = Asker(frozenset({"finance"}), "finance-lead")
INVOICES = (
    "Can customers download their invoices as PDF files?",
    "invoices PDF download for customers",
    "Where do customers download invoices as PDF?",
)
OKTA = ("Does Orbita support Okta single sign-on login?", "Okta single sign-on login setup")
POLICY = GapPolicy(grouping=GroupingPolicy(neighbours=2, min_similarity=-0.2))


def asked(world: World, questions: tuple[str, ...], asker: Asker = PUBLIC) -> list[Event]:
    sink = ListEventSink()
    verity = world.verity.recording(sink, Channel.HTTP)
    for question in questions:
        verity.ask(question, asker)
    return sink.events


@pytest.fixture
def inbox(world: World) -> tuple[GapInbox, SqlEventLog]:
    world.ingest(REFUND, BATTERY, CHARGEBACK)
    log = SqlEventLog("sqlite://")
    centroids = world.verity.calibration.centroids
    return GapInbox(log, log, world.index, world.index, centroids, world.clock, POLICY), log


def test_refused_questions_group_into_gaps_ranked_by_demand(world: World, inbox: tuple[GapInbox, SqlEventLog]) -> None:
    gaps, log = inbox
    log.append(asked(world, OKTA) + asked(world, INVOICES, Asker(subject="agent-2")))
    log.append(asked(world, ("Can Pro Annual plans be refunded within 30 days?",)))  # answered: no gap
    log.append(asked(world, ("How is the hub battery replaced by the customer?",)))  # only_unverified: no gap
    listed = gaps.gaps(PUBLIC)
    assert [(g.count, g.askers) for g in listed] == [(3, 1), (2, 1)]
    assert {q.question for q in listed[0].examples} <= set(INVOICES) and len(listed[0].examples) == 2
    assert listed[0].first_seen == listed[0].last_seen == NOW
    assert all(g.status is GapStatus.OPEN and g.closure is None for g in listed)


def test_nearest_cards_are_only_those_the_reader_may_see(world: World, inbox: tuple[GapInbox, SqlEventLog]) -> None:
    gaps, log = inbox
    questions = ("chargeback bank notice reply time?", "chargeback bank notice answered when?")
    log.append(asked(world, questions))  # refused for the public asker: the chargeback card is finance's
    [public_gap] = gaps.gaps(PUBLIC)
    assert "chargeback" not in {c.facts.card_id for c in public_gap.nearest}
    [finance_gap] = gaps.gaps(FINANCE)
    assert finance_gap.nearest[0].facts.card_id == "chargeback"


def test_a_closed_gap_reopens_when_its_questions_are_refused_again(
    world: World, inbox: tuple[GapInbox, SqlEventLog]
) -> None:
    gaps, log = inbox
    log.append(asked(world, INVOICES))
    [gap] = gaps.gaps(PUBLIC)
    with pytest.raises(VerityError, match="no card 'chargeback'"):  # hidden from the closer: as if missing
        gaps.close(gap.id, "chargeback", PUBLIC)
    gaps.close(gap.id, "refund", PUBLIC)
    [closed] = gaps.gaps(PUBLIC)
    assert (closed.id, closed.status, closed.closure and closed.closure.card_id) == (gap.id, GapStatus.CLOSED, "refund")
    world.clock.set(NOW + timedelta(hours=1))
    log.append(asked(world, INVOICES[:1]))
    [reopened] = gaps.gaps(PUBLIC)
    assert (reopened.status, reopened.count) == (GapStatus.REOPENED, 4)


def test_a_gap_closed_with_a_hidden_card_shows_no_card_id(world: World, inbox: tuple[GapInbox, SqlEventLog]) -> None:
    gaps, log = inbox
    log.append(asked(world, INVOICES))
    [gap] = gaps.gaps(PUBLIC)
    gaps.close(gap.id, "chargeback", FINANCE)
    [seen] = gaps.gaps(PUBLIC)
    assert seen.closure is not None and seen.closure.card_id == ""
    assert gaps.gaps(FINANCE)[0].closure.card_id == "chargeback"  # type: ignore[union-attr]


def test_the_gap_inbox_over_http(world: World) -> None:
    world.ingest(REFUND, CHARGEBACK)
    runtime = world.runtime(Settings(write_keys=SecretStr(WRITE_KEY)))
    app = create_app(lifespan=runtime_lifespan(lambda: runtime))
    with TestClient(app) as client:
        for question in INVOICES:
            assert client.post("/v1/ask", json={"question": question}).json()["refusal"]["reason"] == "no_evidence"
        assert app.state.recorder.flush()
        body = client.get("/v1/gaps", params={"days": 7}).json()
        assert body["window_days"] == 7 and body["gaps"], body
        gap = body["gaps"][0]
        assert gap["count"] >= 1 and gap["status"] == "open" and gap["examples"][0]["question"] in INVOICES
        assert "chargeback" not in str(body)
        close = client.post(f"/v1/gaps/{gap['id']}/close", json={"card_id": "refund"})
        assert close.status_code == 401
        auth = {"Authorization": f"Bearer {WRITE_KEY}"}
        close = client.post(f"/v1/gaps/{gap['id']}/close", json={"card_id": "refund"}, headers=auth)
        assert close.status_code == 200 and close.json()["card_id"] == "refund"
        missing = client.post("/v1/gaps/g999999/close", json={"card_id": "refund"}, headers=auth)
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
