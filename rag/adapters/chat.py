"""A chat model behind any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp), through
llama-index's OpenAILike over the `openai` client. Built explicitly from Settings; never a global default.

Timeouts, 429 and 5xx are retried with backoff by the `openai` client, at most `max_retries` times;
after that the failure is a VerityError(LLM_UNAVAILABLE) that the service turns into an extractive
answer or a 503 (VERITY_LLM_ON_FAILURE).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from rag.domain.errors import ErrorCode, VerityError


class OpenAICompatibleChat:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 60.0,
        max_retries: int = 2,
        max_tokens: int = 400,
        temperature: float = 0.0,
    ) -> None:
        from llama_index.llms.openai_like import OpenAILike

        self._base_url = base_url
        self._model = model
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout_s, max_retries=max_retries
        )
        self._llm: Any = OpenAILike(
            model=model,
            api_base=base_url,
            api_key=api_key or "unused",
            timeout=timeout_s,
            # retries are the openai client's alone (backoff, Retry-After, exactly `max_retries`);
            # llama-index's own retry loop would multiply them
            max_retries=0,
            openai_client=self._client,
            max_tokens=max_tokens,
            temperature=temperature,
            is_chat_model=True,
            is_function_calling_model=False,
            context_window=8192,
        )

    @property
    def name(self) -> str:
        return self._model

    def complete(self, messages: Sequence[Mapping[str, str]]) -> str:
        with self._errors():
            response = self._llm.chat(_chat_messages(messages))
        return str(response.message.content or "")

    def stream(self, messages: Sequence[Mapping[str, str]]) -> Iterator[str]:
        """Deltas of the reply, from the same `openai` client. Not through llama-index's `stream_chat`:
        closing its generator leaves the HTTP response open (measured: the server kept streaming), and a
        client that goes away must stop generation. Closing this generator closes the response."""
        with self._errors():
            stream = self._client.chat.completions.create(
                model=self._model,
                messages=cast(list[ChatCompletionMessageParam], [dict(m) for m in messages]),
                max_tokens=self._max_tokens,
                temperature=self._temperature,
                stream=True,
            )
            try:
                for chunk in stream:
                    delta = chunk.choices[0].delta.content if chunk.choices else None
                    if delta:
                        yield delta
            finally:
                stream.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except openai.APIStatusError as exc:
            raise VerityError(
                ErrorCode.LLM_UNAVAILABLE, f"the chat endpoint {self._base_url} answered HTTP {exc.status_code}"
            ) from exc
        except (openai.APIError, httpx.HTTPError) as exc:  # a stream's read errors come from httpx unwrapped
            raise VerityError(
                ErrorCode.LLM_UNAVAILABLE, f"the chat endpoint {self._base_url} failed: {type(exc).__name__}"
            ) from exc


def _chat_messages(messages: Sequence[Mapping[str, str]]) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
