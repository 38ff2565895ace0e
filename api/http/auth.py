"""API keys: `Authorization: Bearer KEY`, compared in constant time.

Write keys (VERITY_WRITE_KEYS) open the card write endpoints; a key bound to groups writes only the cards
those groups see (any other card is, to it, missing) and only into groups it holds (else 403). Read keys
(VERITY_READ_KEYS) bind an asker to the groups of their key (see api/http/deps.py); a request may narrow those
groups, never widen them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from rag.domain.errors import ErrorCode, VerityError
from rag.services.catalog import Writer


class GroupNotHeldError(VerityError):
    """A request stated a group its key does not hold: 403 `forbidden`. Says nothing about cards."""

    def __init__(self, groups: Iterable[str]) -> None:
        self.groups = sorted(groups)
        super().__init__(
            ErrorCode.FORBIDDEN, f"this key does not hold the group(s) {', '.join(map(repr, self.groups))}"
        )


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


@dataclass(frozen=True, slots=True)
class WriteKey:
    """The write key of a request. `held` None: a key of the comma-separated form, which writes every card."""

    subject: str
    held: frozenset[str] | None

    def writer(self, into: Iterable[str] = ()) -> Writer:
        """The writer of one request. `into`: the groups a card is written into (a PUT body's), each of which
        the key must hold, else 403 naming only those groups of the request."""
        if self.held is not None:
            not_held = set(into) - self.held
            if not_held:
                raise GroupNotHeldError(not_held)
        return Writer(groups=self.held)


def require_writer(request: Request, authorization: Annotated[str | None, Header()] = None) -> WriteKey:
    keys: dict[str, frozenset[str] | None] = request.app.state.runtime.settings.write_key_groups()
    key = matching_key(bearer_token(authorization), keys)
    if key is None:
        raise VerityError(ErrorCode.UNAUTHORIZED, "this endpoint needs a valid write key: Authorization: Bearer KEY")
    return WriteKey(subject=key_subject(key), held=keys[key])


WriterDep = Annotated[WriteKey, Depends(require_writer)]
