"""Write access: `Authorization: Bearer KEY`, keys from VERITY_WRITE_KEYS, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from rag.errors import ErrorCode, VerityError


def require_writer(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    keys: list[str] = request.app.state.runtime.settings.write_key_list()
    scheme, _, token = (authorization or "").partition(" ")
    presented = token.strip().encode()
    accepted = False
    for key in keys:  # every key is compared, so timing does not tell which one nearly matched
        accepted |= hmac.compare_digest(presented, key.encode())
    if scheme.lower() != "bearer" or not presented or not accepted:
        raise VerityError(ErrorCode.UNAUTHORIZED, "this endpoint needs a valid write key: Authorization: Bearer KEY")


WriterDep = Annotated[None, Depends(require_writer)]
