"""One error type for business code, with a code enum; `api/http/errors.py` turns it into problem+json."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    SOURCE_NOT_FOUND = "source_not_found"
    EMBEDDER_MISMATCH = "embedder_mismatch"
    STORE_UNAVAILABLE = "store_unavailable"
    EMBEDDER_UNAVAILABLE = "embedder_unavailable"
    LLM_UNAVAILABLE = "llm_unavailable"
    CONFIGURATION = "configuration"
    INTERNAL = "internal"  # a bug: the API answers 500 and logs it; never raised on purpose


class VerityError(Exception):
    """Raised by core, ingest and CLI code; never carries card text the caller may not see."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"
