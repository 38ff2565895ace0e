"""The OpenAPI document says every status and content type the service returns.

FastAPI documents a route's success response and a 422 as `application/json`; Verity answers every error
as `application/problem+json` (api/http/errors.py), from handlers, dependencies and the ASGI layer (api/http/limits.py:
401 before the body is read, 408, 413; 429 when embeddings queue up). `describe_problems` adds those
responses to each operation of the generated document, once, from what the operation is:
- every operation: 500 (an unexpected error; logged, never with a traceback) and 503 (a dependency down);
- /v1/ operations: 401 (no valid key, when keys are set) and 403 (a group the key does not hold);
- operations with a body: 400 (not JSON), 408 (a body too slow), 413 (too large), 422 (invalid);
- PUT of a card: 409 (the body's id is not the path's);
- operations with parameters: 422;
- operations on one card (`{card_id}`): 404 (missing, or hidden from the key: the same answer);
- operations on one gap (`{gap_id}`): 404 (no such gap in the window, or the linked card missing or hidden);
- operations that embed a question (or a reply's sentences): 429 (too many embeddings waiting; Retry-After).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_JSON = "application/problem+json"
EMBEDDING_PATHS = ("/v1/ask", "/v1/search", "/v1/reply-drafts", "/v1/check")
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is Verity's error code.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
WHY = {
    400: "The body is not JSON (undecodable bytes).",
    401: "No valid key (when keys are set); sent before the body is read.",
    403: "The request states a group its key does not hold, or a card outside the key's groups.",
    404: "No such card (or gap), or one the key may not see (the same answer).",
    408: "The request body did not arrive in time.",
    409: "The body's card id differs from the path's.",
    413: "The request body is larger than VERITY_MAX_BODY_BYTES.",
    422: "The request is invalid (each problem in `errors`).",
    429: "Too many questions are waiting to be embedded; try again after Retry-After.",
    500: "An unexpected error; it is logged, and the body says nothing more.",
    503: "The store, the embedder or the model is unavailable; try again after Retry-After.",
}


def statuses_of(path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from its path, parameters and body."""
    statuses = {500, 503}
    if path.startswith("/v1/"):
        statuses |= {401, 403}
    if "requestBody" in operation:
        statuses |= {400, 408, 413, 422}
    if operation.get("parameters"):
        statuses.add(422)
    if "{gap_id}" in path:
        statuses.add(404)
    if "{card_id}" in path:
        statuses.add(404)
        if "requestBody" in operation and path == "/v1/cards/{card_id}":
            statuses.add(409)
    if path in EMBEDDING_PATHS:
        statuses.add(429)
    return statuses


def with_problems(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the problem responses of every operation (api/http/errors.py's format)."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses_of(path, operation)):
                responses[str(status)] = {"description": WHY[status], "content": problem}
    document["components"]["schemas"].pop("HTTPValidationError", None)
    document["components"]["schemas"].pop("ValidationError", None)
    return document


def describe_problems(app: FastAPI) -> None:
    """Make `app.openapi()` return the document with every problem response (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented way to replace the generator
