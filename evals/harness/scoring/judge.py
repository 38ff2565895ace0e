"""Faithfulness judged by an LLM: ragas' `Faithfulness` (statements of the answer checked against the cited
cards) with a judge at an OpenAI-compatible endpoint that the caller names.

There is no default judge. The client is built here with the endpoint, model and key given, so neither
`OPENAI_BASE_URL` nor `OPENAI_API_KEY` can redirect it, and a key meant for OpenAI is never sent to another
server. ragas' telemetry is switched off before ragas is imported; `ragas.testset` is never imported (it
downloads a tokenizer).

Structured output: ragas' own `llm_factory` uses instructor's JSON mode, which only asks the model to follow
the schema in words. The default here is instructor's TOOLS mode: the schema travels as a forced function
call, which OpenAI, vLLM and llama.cpp servers turn into constrained decoding, so even a small judge returns
well-formed statements and verdicts. `mode="json"` keeps ragas' choice.
"""

from __future__ import annotations

import asyncio
import math
import os
from dataclasses import dataclass
from typing import Literal

os.environ["RAGAS_DO_NOT_TRACK"] = "true"  # before ragas is imported: telemetry stays off

import instructor
from openai import AsyncOpenAI
from ragas.llms.base import InstructorBaseRagasLLM, InstructorLLM, InstructorModelArgs
from ragas.metrics.collections import Faithfulness

from rag.answering.guard.claims import split_claims
from rag.services.drafts import strip_markers

JudgeMode = Literal["tools", "json"]


@dataclass(frozen=True, slots=True)
class JudgeConfig:
    base_url: str  # OpenAI-compatible, e.g. http://127.0.0.1:8080/v1
    model: str
    api_key: str = ""  # empty: the endpoint needs none
    mode: JudgeMode = "tools"
    timeout_s: float = 120.0
    max_tokens: int = 512
    retries: int = 1  # instructor's re-asks after an answer that does not fit the schema

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"the judge URL must be http:// or https://, got {self.base_url!r}")
        if not self.model.strip():
            raise ValueError("the judge needs a model name")


def build_judge_llm(config: JudgeConfig) -> InstructorLLM:
    """The judge, bound to exactly the endpoint configured."""
    client = AsyncOpenAI(
        base_url=config.base_url,
        api_key=config.api_key or "no-key",  # never read from OPENAI_API_KEY
        timeout=config.timeout_s,
        max_retries=0,  # a retry would queue behind the request still running on a single-slot server
    )
    mode = instructor.Mode.TOOLS if config.mode == "tools" else instructor.Mode.JSON
    return InstructorLLM(
        client=instructor.from_openai(client, mode=mode),
        model=config.model,
        provider="openai",
        model_args=InstructorModelArgs(temperature=0.0, max_tokens=config.max_tokens),
        max_retries=config.retries,
    )


class _Faithfulness(Faithfulness):
    """ragas' Faithfulness, except when the judge extracts no statement from a non-empty answer.

    ragas then returns NaN. A non-empty answer always states something, so its sentences (split as the
    citation guard splits them) become the statements, and the judge still decides each one against the
    cards. (Asking for `minItems: 1` in the schema instead makes llama.cpp's constrained decoding crawl.)
    """

    async def _create_statements(self, question: str, response: str) -> list[str]:
        statements: list[str] = await super()._create_statements(question, response)
        return statements or [claim for _, claim, _ in split_claims(response)]


@dataclass(frozen=True, slots=True)
class Judged:
    score: float | None  # 0..1; None when the judge failed
    error: str = ""


class RagasFaithfulness:
    """One answer at a time, against the text of the cards it cites (the evidence it claims to rest on)."""

    def __init__(self, llm: InstructorBaseRagasLLM) -> None:
        self._metric = _Faithfulness(llm=llm)

    def judge(self, question: str, answer: str, contexts: list[str]) -> Judged:
        if not contexts:
            return Judged(None, "no cited card to judge against")
        try:
            result = asyncio.run(
                self._metric.ascore(user_input=question, response=strip_markers(answer), retrieved_contexts=contexts)
            )
        except Exception as exc:
            return Judged(None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
        value = result.value
        if not isinstance(value, (int, float)) or math.isnan(value):
            return Judged(None, "the judge returned no verdicts")
        return Judged(float(value))
