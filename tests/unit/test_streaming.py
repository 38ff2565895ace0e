"""`POST /v1/ask` with `stream: true`: kept sentences as they pass the guard, dropped ones, then the result."""

import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app, runtime_lifespan
from rag.answering.generation import INSUFFICIENT, ReplyGuard, prompt_evidence
from rag.answering.guard.core import Guard, GuardPolicy
from rag.bootstrap import Runtime
from rag.config import LlmUnsupported, Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker, RefusalReason
from rag.services.ask import Verity
from rag.services.streaming import DroppedEvent, ResultEvent, TextEvent
from tests.fakes import HashEmbedder, ScriptedChat
from tests.unit.conftest import World

PUBLIC = Asker()
QUESTION = "Can Pro Annual plans be refunded within 30 days?"
FAITHFUL = "Pro Annual plans can be refunded in full within 30 days of purchase. [1]"
INVENTED = "Refunds are also paid in gold bars to loyal customers. [1]"


def test_a_kept_sentence_is_sent_before_the_model_has_finished(kb: World) -> None:
    chat = ScriptedChat(f"{FAITHFUL} {INVENTED} {FAITHFUL}")
    total = len((f"{FAITHFUL} {INVENTED} {FAITHFUL}").split())
    events = iter(kb.with_chat(chat).ask_stream(QUESTION, PUBLIC))
    first = next(events)
    assert first == TextEvent(FAITHFUL)
    assert chat.pulled < total  # judged and sent while the model was still writing
    rest = list(events)
    assert [type(e) for e in rest] == [DroppedEvent, TextEvent, ResultEvent]
    assert isinstance(rest[0], DroppedEvent)
    assert (rest[0].dropped.text, rest[0].dropped.problem) == (INVENTED, "unsupported")
    result = rest[-1]
    assert isinstance(result, ResultEvent)
    assert result.result.answer is not None
    assert result.result.answer.text == f"{FAITHFUL} {FAITHFUL}"
    assert [c.card_id for c in result.result.answer.citations] == ["refund"]
    assert {"first_token_ms", "model_first_token_ms", "generate_ms", "total_ms"} <= set(result.result.timings_ms)


def test_streamed_text_is_what_the_whole_answer_says(kb: World) -> None:
    streamed = list(kb.with_chat(ScriptedChat(f"{FAITHFUL} {INVENTED}")).ask_stream(QUESTION, PUBLIC))
    plain = kb.with_chat(ScriptedChat(f"{FAITHFUL} {INVENTED}")).ask(QUESTION, PUBLIC)
    assert plain.answer is not None
    assert " ".join(e.text for e in streamed if isinstance(e, TextEvent)) == plain.answer.text
    last = streamed[-1]
    assert isinstance(last, ResultEvent)
    assert last.result.answer is not None
    assert last.result.answer.dropped == plain.answer.dropped


def test_under_refuse_nothing_is_sent_until_the_whole_reply_passed(kb: World) -> None:
    bad = list(
        kb.with_chat(ScriptedChat(f"{FAITHFUL} {INVENTED}"), unsupported=LlmUnsupported.REFUSE).ask_stream(
            QUESTION, PUBLIC
        )
    )
    assert not [e for e in bad if isinstance(e, TextEvent)]
    assert isinstance(bad[-1], ResultEvent)
    assert bad[-1].result.refusal is not None
    good = list(
        kb.with_chat(ScriptedChat(f"{FAITHFUL} {FAITHFUL}"), unsupported=LlmUnsupported.REFUSE).ask_stream(
            QUESTION, PUBLIC
        )
    )
    assert [e for e in good if isinstance(e, TextEvent)] == [TextEvent(FAITHFUL), TextEvent(FAITHFUL)]


def test_insufficient_evidence_and_untrusted_only_questions_stream_only_a_refusal(kb: World) -> None:
    [insufficient] = list(kb.with_chat(ScriptedChat(INSUFFICIENT)).ask_stream(QUESTION, PUBLIC))
    assert isinstance(insufficient, ResultEvent)
    assert insufficient.result.refusal is not None
    assert insufficient.result.refusal.reason is RefusalReason.NO_EVIDENCE
    chat = ScriptedChat(FAITHFUL)
    [untrusted] = list(kb.with_chat(chat).ask_stream("How is the hub battery replaced by the customer?", PUBLIC))
    assert isinstance(untrusted, ResultEvent)
    assert untrusted.result.refusal is not None
    assert untrusted.result.refusal.reason is RefusalReason.ONLY_UNVERIFIED
    assert chat.prompts == []


def test_closing_the_stream_stops_generation(kb: World) -> None:
    chat = ScriptedChat(" ".join([FAITHFUL] * 20))
    stream = kb.with_chat(chat).ask_stream(QUESTION, PUBLIC)
    events = iter(stream)
    assert isinstance(next(events), TextEvent)
    stream.close()
    assert list(events) == []
    assert chat.closed
    assert chat.pulled < len(" ".join([FAITHFUL] * 20).split()) // 2


def test_a_model_down_before_its_first_token_falls_back_or_fails_before_the_stream(kb: World) -> None:
    down = ScriptedChat(error=VerityError(ErrorCode.LLM_UNAVAILABLE, "the chat endpoint answered HTTP 503"))
    events = list(kb.with_chat(down).ask_stream(QUESTION, PUBLIC))
    assert isinstance(events[0], TextEvent)
    assert events[0].text.startswith(FAITHFUL)  # the extractive answer, quoted
    assert isinstance(events[-1], ResultEvent)
    assert events[-1].result.timings_ms["llm_failed"] == 1.0
    with pytest.raises(VerityError):
        kb.with_chat(down, llm_fallback=False).ask_stream(QUESTION, PUBLIC)


def test_a_model_that_breaks_mid_stream_raises_after_what_was_sent(kb: World) -> None:
    broken = ScriptedChat(f"{FAITHFUL} {FAITHFUL} {FAITHFUL}", fail_after=16)
    events = iter(kb.with_chat(broken).ask_stream(QUESTION, PUBLIC))
    assert next(events) == TextEvent(FAITHFUL)
    with pytest.raises(VerityError):
        list(events)


def test_extractive_answers_stream_their_sentences_then_the_result(kb: World) -> None:
    events = list(kb.with_chat(None).ask_stream(QUESTION, PUBLIC))
    plain = kb.with_chat(None).ask(QUESTION, PUBLIC)
    assert plain.answer is not None
    texts = [e.text for e in events if isinstance(e, TextEvent)]
    assert " ".join(texts) == plain.answer.text
    assert isinstance(events[-1], ResultEvent)


def test_a_sentence_is_judged_only_once_the_next_one_has_begun(kb: World) -> None:
    cards, _ = kb.verity.rank_cards(QUESTION, kb.embedder.embed_query(QUESTION), PUBLIC, kb.clock.now(), 5)
    replies = ReplyGuard(
        prompt_evidence(cards[:1]), Guard(HashEmbedder(), GuardPolicy(support_threshold=0.8)), LlmUnsupported.DROP
    )
    assert replies.feed("Pro Annual plans can be refunded in full within 30 days of purchase.") == []
    assert replies.feed(" [1") == []  # a marker still arriving belongs to this sentence
    assert replies.feed("] [") == []
    [verdict] = replies.feed("2] Refunds")  # the next sentence began: this one is complete
    assert verdict.markers == (1, 2)
    assert verdict.problem is not None  # [2] was not in the prompt
    fresh, judged = replies.finish()
    assert [v.claim for v in fresh] == ["Refunds"]
    assert judged.answer is None


def sse(body: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def client_for(kb: World, verity: Verity) -> TestClient:
    runtime = Runtime(settings=Settings(), embedder=kb.embedder, index=kb.index, verity=verity, clock=kb.clock)
    return TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime)))


def test_over_http_a_stream_is_server_sent_events_and_errors_before_it_are_problems(kb: World) -> None:
    with client_for(kb, kb.with_chat(ScriptedChat(f"{FAITHFUL} {INVENTED}"))) as client:
        response = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
        invalid = client.post("/v1/ask", json={"question": " ", "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    assert [name for name, _ in events] == ["text", "dropped", "result"]
    assert events[0][1] == {"text": FAITHFUL}
    assert events[2][1]["outcome"] == "answered"
    assert events[2][1]["answer"] == FAITHFUL
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")
    down = ScriptedChat(error=VerityError(ErrorCode.LLM_UNAVAILABLE, "the chat endpoint answered HTTP 429"))
    with client_for(kb, kb.with_chat(down, llm_fallback=False)) as client:
        unavailable = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
    assert unavailable.status_code == 503
    assert unavailable.headers["content-type"].startswith("application/problem+json")


def test_over_http_a_model_that_breaks_mid_stream_ends_with_an_error_event(kb: World) -> None:
    broken = ScriptedChat(f"{FAITHFUL} {FAITHFUL} {FAITHFUL}", fail_after=16)
    with client_for(kb, kb.with_chat(broken)) as client:
        response = client.post("/v1/ask", json={"question": QUESTION, "stream": True})
    events = sse(response.text)
    assert [name for name, _ in events] == ["text", "error"]
    assert events[1][1]["status"] == 503
    assert events[1][1]["code"] == "llm_unavailable"


def test_a_sentence_without_letters_does_not_lose_or_repeat_the_one_before(kb: World) -> None:
    """ "2024." alone does not start a sentence; the claims judged so far must stay a prefix."""
    cards, _ = kb.verity.rank_cards(QUESTION, kb.embedder.embed_query(QUESTION), PUBLIC, kb.clock.now(), 5)
    guard = Guard(HashEmbedder(), GuardPolicy(support_threshold=0.8))
    reply = f"{FAITHFUL} 2024. {FAITHFUL} Thanks"
    streamed = ReplyGuard(prompt_evidence(cards[:1]), guard, LlmUnsupported.DROP)
    judged_while_streaming = [v for word in reply.split(" ") for v in streamed.feed(word + " ")]
    fresh, _ = streamed.finish()
    claims = [v.claim for v in [*judged_while_streaming, *fresh]]
    whole = [v.claim for v in guard.check(reply, [])]
    assert claims == whole  # each sentence judged once, in order


def test_under_refuse_no_passed_sentence_is_reported_as_dropped(kb: World) -> None:
    events = list(
        kb.with_chat(ScriptedChat(f"{FAITHFUL} {INVENTED} {FAITHFUL}"), unsupported=LlmUnsupported.REFUSE).ask_stream(
            QUESTION, PUBLIC
        )
    )
    dropped = [e.dropped for e in events if isinstance(e, DroppedEvent)]
    assert [(d.text, d.problem) for d in dropped] == [(INVENTED, "unsupported")]
    assert not [e for e in events if isinstance(e, TextEvent)]
