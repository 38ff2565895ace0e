"""API keys: `Authorization: Bearer KEY`, compared in constant time.

Write keys (VERITY_WRITE_KEYS) open the card write endpoints. Read keys (VERITY_READ_KEYS) bind an asker to
the groups of their key (see api/deps.py); a request may narrow those groups, never widen them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse

from api.errors import problem
from rag.errors import ErrorCode, VerityError


class GroupNotHeldError(Exception):
    """A request stated a group its key does not hold: 403. Says nothing about cards."""

    def __init__(self, groups: Iterable[str]) -> None:
        self.groups = sorted(groups)
        super().__init__(f"this key does not hold the group(s) {', '.join(map(repr, self.groups))}")


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Authorization: Bearer TOKEN`, or None when the header is missing or of another scheme."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def matching_key(presented: str | None, keys: Iterable[str]) -> str | None:
    """The key equal to `presented`. Every key is compared, so timing does not tell which one nearly matched."""
    if presented is None:
        return None
    found = None
    for key in keys:
        if hmac.compare_digest(presented.encode(), key.encode()):
            found = key
    return found


def key_subject(key: str) -> str:
    """A name for the holder of a key, for logs and feedback, that does not reveal the key."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def require_writer(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    keys: list[str] = request.app.state.runtime.settings.write_key_list()
    if matching_key(bearer_token(authorization), keys) is None:
        raise VerityError(ErrorCode.UNAUTHORIZED, "this endpoint needs a valid write key: Authorization: Bearer KEY")


WriterDep = Annotated[None, Depends(require_writer)]


async def _group_not_held(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GroupNotHeldError)
    return problem(403, "forbidden", str(exc), request.url.path)


def install_auth_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GroupNotHeldError, _group_not_held)
