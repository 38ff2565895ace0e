"""The web page for support people at `/` (the feedback it sends goes to api/routes/feedback.py).

Plain HTML, CSS and one vanilla JS module from `api/static/` (no front-end build): the page calls the same
REST API as any client (/v1/ask, /v1/reply-drafts, /v1/check, /v1/feedback), with the same identity rules.
Card text is user content, so the page writes server strings as text only, and the Content-Security-Policy
below allows scripts and styles from this origin alone (no inline script), a second wall against injected
markup.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import Response

from rag.domain.errors import ErrorCode, VerityError

router = APIRouter()

STATIC = files("api") / "static"
ASSETS = {  # every file the page may load; anything else under /static/ is a 404
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # the page is small and changes with the server: revalidate every time, never serve a stale script
    "Cache-Control": "no-cache",
}


def _read(resource: Traversable) -> bytes:
    try:
        return resource.read_bytes()
    except OSError as exc:  # a broken install: say which file, never a traceback
        raise VerityError(ErrorCode.CONFIGURATION, f"the web page file {resource.name} is missing") from exc


def _send(resource: Traversable, media_type: str, if_none_match: str | None) -> Response:
    """The file with a strong ETag: a browser that has it gets a 304 and no body."""
    body = _read(resource)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {**SECURITY_HEADERS, "ETag": etag}
    if if_none_match and etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/", include_in_schema=False)
def page(if_none_match: Annotated[str | None, Header()] = None) -> Response:
    return _send(STATIC / "index.html", "text/html; charset=utf-8", if_none_match)


@router.get("/static/{name}", include_in_schema=False)
def asset(name: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise VerityError(ErrorCode.NOT_FOUND, "no such file under /static/")
    return _send(STATIC / name, media_type, if_none_match)
