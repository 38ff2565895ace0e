"""One handler answers every error as RFC 9457 application/problem+json; no traceback ever leaks."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from rag.domain.errors import ErrorCode, VerityError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("verity.api")

STATUS_OF = {
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.SOURCE_NOT_FOUND: 404,
    ErrorCode.EMBEDDER_MISMATCH: 503,
    ErrorCode.STORE_UNAVAILABLE: 503,
    ErrorCode.EMBEDDER_UNAVAILABLE: 503,
    ErrorCode.LLM_UNAVAILABLE: 503,
    ErrorCode.CONFIGURATION: 500,
    ErrorCode.INTERNAL: 500,
}
# A dependency that is down or slow: the client may try again (Retry-After, RFC 9110 10.2.3)
RETRYABLE = frozenset({ErrorCode.STORE_UNAVAILABLE, ErrorCode.EMBEDDER_UNAVAILABLE, ErrorCode.LLM_UNAVAILABLE})
RETRY_AFTER_S = 5


def problem(status: int, code: str, detail: str, instance: str, **extra: object) -> JSONResponse:
    body = problem_body(status, code, detail, instance, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def problem_body(status: int, code: str, detail: str, instance: str, **extra: object) -> dict[str, object]:
    """The RFC 9457 object (also sent as the `error` event of a stream that fails after it started)."""
    body: dict[str, object] = {
        "type": f"https://verity.example/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    body.update(extra)
    return body


async def _verity_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VerityError)
    status = STATUS_OF[exc.code]  # every code has its status (tests/unit/test_api.py)
    if status >= 500:
        log.error("request failed: %s", exc)
    response = problem(status, exc.code.value, exc.message, request.url.path)
    if exc.code is ErrorCode.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = 'Bearer realm="verity"'
    if exc.code in RETRYABLE:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()
    ]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors) or "invalid request"
    return problem(422, ErrorCode.INVALID_REQUEST.value, detail, request.url.path, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = "not_found" if exc.status_code == 404 else "http_error"
    response = problem(exc.status_code, code, str(exc.detail), request.url.path)
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:  # every method of the path, not only those of the first route matched (RFC 9110)
        response.headers["Allow"] = ", ".join(allowed_methods(request))
    return response


def allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    detail = "an unexpected error happened; it has been logged"
    return problem(500, ErrorCode.INTERNAL.value, detail, request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VerityError, _verity_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
