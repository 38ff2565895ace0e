"""What a request may cost before its route sees its body, in the ASGI layer (pure ASGI: nothing is buffered).

- Size: a body larger than VERITY_MAX_BODY_BYTES is refused with 413, at once when Content-Length says so
  (nothing is read), else as soon as the streamed (chunked) bytes pass the limit.
- Keys: when the chosen route first asks for its body, a request without the key that route needs gets 401
  instead of a byte of it (api/http/key_gate.py), so a caller without a key learns nothing from its body.
- Time: a body that has not arrived VERITY_BODY_TIMEOUT_S after the request started is refused with 408,
  so a client that sends part of a body and stalls no longer holds a request and a connection open.
Each refusal is problem+json; when a body would still follow, with `Connection: close`, so the server stops
reading it. The route then sees a client that went away, and whatever it would still send is dropped.

Also here: the 429 (with Retry-After) of a question refused because every embedding slot is taken
(rag/services/limits.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.errors import problem
from api.http.key_gate import key_refusal
from rag.config import Settings
from rag.services.limits import EmbedderBusyError

log = logging.getLogger("verity.api")

DISCONNECT: Message = {"type": "http.disconnect"}


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_bytes: int
    timeout_s: float

    @classmethod
    def of(cls, settings: Settings) -> BodyLimits:
        return cls(settings.max_body_bytes, settings.body_timeout_s)


def declared_length(headers: Headers) -> int | None:
    """Content-Length as a number; None when absent (chunked) or not a number (the server refuses that)."""
    value = headers.get("content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


def body_follows(headers: Headers) -> bool:
    """Whether the request announces a body."""
    return bool(declared_length(headers)) or "transfer-encoding" in headers


def too_large(limits: BodyLimits, instance: str) -> JSONResponse:
    detail = f"the request body is larger than {limits.max_bytes} bytes, the most this server accepts"
    return problem(413, "body_too_large", detail, instance, limit_bytes=limits.max_bytes)


def too_slow(limits: BodyLimits, instance: str) -> JSONResponse:
    detail = f"the request body did not arrive within {limits.timeout_s:g} s"
    return problem(408, "body_timeout", detail, instance, limit_s=limits.timeout_s)


class _GuardedRequest:
    """`receive` and `send` of one request: keys checked at the first read, bytes counted against the limit,
    reads held to the deadline; once this side has answered, the route's own answer is dropped."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, limits: BodyLimits) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._limits = limits
        self._deadline = anyio.current_time() + limits.timeout_s
        self._received = 0
        self._read = False
        self._complete = False
        self._started = False
        self.answered = False  # this side sent the response

    async def receive(self) -> Message:
        if self.answered:
            return DISCONNECT
        if self._complete:  # the body is in; what follows is the wait for a disconnect, which has no deadline
            return await self._receive()
        if not self._read:
            self._read = True
            refused = key_refusal(self._scope)
            if refused is not None:
                return await self._refuse(refused)
        with anyio.move_on_after(self._deadline - anyio.current_time()) as waited:
            message = await self._receive()
        if waited.cancelled_caught:
            return await self._refuse(too_slow(self._limits, self._scope["path"]))
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limits.max_bytes:
                return await self._refuse(too_large(self._limits, self._scope["path"]))
            self._complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)

    async def _refuse(self, response: JSONResponse) -> Message:
        """Answer `response` unless a response has started (then the route only sees the client leave)."""
        if not self._started:
            await refuse(response, self._scope, self._receive, self._send, complete=self._complete)
            self.answered = True
        return DISCONNECT


async def refuse(response: JSONResponse, scope: Scope, receive: Receive, send: Send, *, complete: bool) -> None:
    """Send `response`; when more of the body may follow, close the connection rather than read it."""
    if not complete and body_follows(Headers(scope=scope)):
        response.headers["Connection"] = "close"
    await response(scope, receive, send)


class RequestLimitMiddleware:
    """See the module docstring. The limits are the app runtime's settings; before a lifespan has built a
    runtime, requests pass as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = getattr(scope["app"].state, "runtime", None) if scope["type"] == "http" else None
        if runtime is None:
            await self.app(scope, receive, send)
            return
        limits = BodyLimits.of(runtime.settings)
        length = declared_length(Headers(scope=scope))
        if length is not None and length > limits.max_bytes:
            await refuse(too_large(limits, scope["path"]), scope, receive, send, complete=False)
            return
        request = _GuardedRequest(scope, receive, send, limits)
        try:
            await self.app(scope, request.receive, request.send)
        except Exception:
            if not request.answered:
                raise
            # the route failed on the disconnect it was handed after the refusal: nobody is left to tell
            log.debug("request ended after it was refused", exc_info=True)


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EmbedderBusyError)
    response = problem(429, "busy", exc.message, request.url.path)
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def install_limits(app: FastAPI) -> None:
    app.add_middleware(RequestLimitMiddleware)
    app.add_exception_handler(EmbedderBusyError, _busy)
