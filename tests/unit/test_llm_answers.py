"""The LLM answerer wired into `ask`, over a scripted chat model: what the model sees, what is kept."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app, runtime_lifespan
from rag.answering.generation import INSUFFICIENT
from rag.bootstrap import Runtime
from rag.config import AnswererKind, LlmUnsupported, Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker, RefusalReason
from rag.services.answerer import INSUFFICIENT_MESSAGE, UNSUPPORTED_MESSAGE
from rag.services.ask import Verity
from tests.fakes import ScriptedChat
from tests.unit.conftest import BATTERY, CHARGEBACK, EXPORT, REFUND, World

PUBLIC = Asker()
QUESTION = "Can Pro Annual plans be refunded within 30 days?"
FAITHFUL = "Pro Annual plans can be refunded in full within 30 days of purchase. [1]"
INVENTED = "Refunds are also paid in gold bars to loyal customers. [1]"


def test_the_model_sees_only_verified_visible_cards_and_its_faithful_sentence_is_kept(kb: World) -> None:
    chat = ScriptedChat(f"{FAITHFUL} {INVENTED}")
    result = kb.with_chat(chat).ask(QUESTION, PUBLIC)
    [prompt] = chat.prompts
    seen = "\n".join(m["content"] for m in prompt)
    assert REFUND.body.split(".")[0] in seen
    for hidden in (BATTERY, CHARGEBACK, EXPORT):  # unverified, another group's, expired
        assert hidden.body.split(".")[0] not in seen
    assert result.answer is not None
    assert result.answer.text == FAITHFUL
    assert [c.card_id for c in result.answer.citations] == ["refund"]
    assert [(d.text, d.problem) for d in result.answer.dropped] == [(INVENTED, "unsupported")]
    assert {"generate_ms", "guard_ms"} <= set(result.timings_ms)


def test_a_question_only_untrusted_cards_answer_never_reaches_the_model(kb: World) -> None:
    chat = ScriptedChat(FAITHFUL)
    result = kb.with_chat(chat).ask("How is the hub battery replaced by the customer?", PUBLIC)
    assert result.refusal is not None
    assert result.refusal.reason is RefusalReason.ONLY_UNVERIFIED
    assert chat.prompts == []


def test_the_models_insufficient_signal_is_a_no_evidence_refusal(kb: World) -> None:
    result = kb.with_chat(ScriptedChat(INSUFFICIENT)).ask(QUESTION, PUBLIC)
    assert result.answer is None
    assert result.refusal is not None
    assert (result.refusal.reason, result.refusal.message) == (RefusalReason.NO_EVIDENCE, INSUFFICIENT_MESSAGE)


def test_an_answer_with_nothing_supported_is_withheld_and_its_sentences_listed(kb: World) -> None:
    result = kb.with_chat(ScriptedChat(f"{INVENTED} Refunds take 45 days. [1]")).ask(QUESTION, PUBLIC)
    assert result.answer is None
    assert result.refusal is not None
    assert result.refusal.message == UNSUPPORTED_MESSAGE
    assert [d.problem for d in result.refusal.dropped] == ["unsupported", "unsupported_fact"]


def test_under_refuse_one_bad_sentence_withholds_the_answer(kb: World) -> None:
    verity = kb.with_chat(ScriptedChat(f"{FAITHFUL} {INVENTED}"), unsupported=LlmUnsupported.REFUSE)
    result = verity.ask(QUESTION, PUBLIC)
    assert result.answer is None
    assert result.refusal is not None
    assert [d.problem for d in result.refusal.dropped] == ["unsupported"]


def test_a_failed_model_falls_back_to_the_extractive_answer_or_fails_clearly(kb: World) -> None:
    down = ScriptedChat(error=VerityError(ErrorCode.LLM_UNAVAILABLE, "the chat endpoint answered HTTP 503"))
    result = kb.with_chat(down).ask(QUESTION, PUBLIC)
    assert result.answer is not None
    assert result.answer.text.startswith(FAITHFUL)  # the extractive answer quotes the card
    assert result.timings_ms["llm_failed"] == 1.0
    with pytest.raises(VerityError) as caught:
        kb.with_chat(down, llm_fallback=False).ask(QUESTION, PUBLIC)
    assert caught.value.code is ErrorCode.LLM_UNAVAILABLE


def test_over_http_dropped_sentences_are_listed_and_a_down_model_is_a_503(kb: World) -> None:
    def client_for(verity: Verity) -> TestClient:
        runtime = Runtime(settings=Settings(), embedder=kb.embedder, index=kb.index, verity=verity, clock=kb.clock)
        return TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime)))

    with client_for(kb.with_chat(ScriptedChat(f"{FAITHFUL} {INVENTED}"))) as client:
        body = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert body["outcome"] == "answered"
    assert body["answer"] == FAITHFUL
    assert [d["problem"] for d in body["dropped"]] == ["unsupported"]
    down = ScriptedChat(error=VerityError(ErrorCode.LLM_UNAVAILABLE, "the chat endpoint answered HTTP 429"))
    with client_for(kb.with_chat(down, llm_fallback=False)) as client:
        response = client.post("/v1/ask", json={"question": QUESTION})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "429" in response.json()["detail"]


def test_the_llm_answerer_needs_an_endpoint_and_a_model() -> None:
    with pytest.raises(ValidationError, match="VERITY_LLM_BASE_URL"):
        Settings(answerer=AnswererKind.LLM)
    settings = Settings(answerer=AnswererKind.LLM, llm_base_url="http://127.0.0.1:9/v1", llm_model="m")
    assert settings.llm_api_key.get_secret_value() == ""


def test_a_model_stream_that_breaks_while_read_is_llm_unavailable_not_a_crash() -> None:
    """The `openai` stream reads the body through httpx: a read timeout there is not an openai.APIError."""
    import json

    import httpx

    from rag.adapters.chat import OpenAICompatibleChat

    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    chunk["choices"] = [{"index": 0, "delta": {"content": "Refunds "}, "finish_reason": None}]

    class BreaksMidway(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            raise httpx.ReadTimeout("the model stopped sending")

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=BreaksMidway())

    chat = OpenAICompatibleChat("http://model.invalid/v1", "m", max_retries=0)
    chat._client = chat._client.with_options(http_client=httpx.Client(transport=httpx.MockTransport(respond)))
    deltas = chat.stream([{"role": "user", "content": "hi"}])
    assert next(deltas) == "Refunds "
    with pytest.raises(VerityError) as caught:
        next(deltas)
    assert caught.value.code is ErrorCode.LLM_UNAVAILABLE
