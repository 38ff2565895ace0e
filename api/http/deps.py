"""Dependencies as type aliases, so handlers read like domain code.

The asker's identity is one dependency (`CallerDep`), built by the app's `AskerResolver`:
- read keys set (VERITY_READ_KEYS): the request must present one (`Authorization: Bearer KEY`, else 401);
  the asker sees the groups of that key, and groups stated in the request may only narrow them (else 403);
- no read keys (the embedded default, behind a trusted gateway): the groups stated in the request are taken
  as they are.
The caller is resolved before the body is read, so a request without a valid key learns nothing, not even
whether its body was well formed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Header, Request

from api.http.auth import GroupNotHeldError, bearer_token, key_subject, matching_key
from rag.bootstrap import Runtime
from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker
from rag.services.ask import Verity
from rag.services.catalog import Catalog


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request. `held` None: a trusted gateway states the groups with each request."""

    subject: str
    held: frozenset[str] | None

    def asker(self, requested_groups: Sequence[str]) -> Asker:
        """The asker of one request: the stated groups, within what the caller holds (all of it when none)."""
        requested = frozenset(requested_groups)
        if self.held is None:
            return Asker(groups=requested, subject=self.subject)
        if not requested:
            return Asker(groups=self.held, subject=self.subject)
        if not requested <= self.held:
            raise GroupNotHeldError(requested - self.held)
        return Asker(groups=requested, subject=self.subject)


class AskerResolver(Protocol):
    def caller(self, authorization: str | None) -> Caller:
        """The caller of a request with this Authorization header; VerityError(UNAUTHORIZED) when refused."""
        ...


class TrustedGatewayResolver:
    """Takes the groups the caller states: correct only behind a gateway that sets them."""

    def caller(self, authorization: str | None) -> Caller:
        return Caller(subject="gateway", held=None)


class ReadKeyResolver:
    """Each read key sees its own groups; a request without a known key is refused."""

    def __init__(self, keys: Mapping[str, frozenset[str]]) -> None:
        if not keys:
            raise ValueError("ReadKeyResolver needs at least one key")
        self._keys = dict(keys)

    def caller(self, authorization: str | None) -> Caller:
        key = matching_key(bearer_token(authorization), self._keys)
        if key is None:
            raise VerityError(ErrorCode.UNAUTHORIZED, "this endpoint needs a valid read key: Authorization: Bearer KEY")
        return Caller(subject=key_subject(key), held=self._keys[key])


def resolver_for(settings: Settings) -> AskerResolver:
    keys = settings.read_key_groups()
    return ReadKeyResolver(keys) if keys else TrustedGatewayResolver()


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_verity(request: Request) -> Verity:
    return get_runtime(request).verity


def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def get_asker_resolver(request: Request) -> AskerResolver:
    resolver: AskerResolver = request.app.state.asker_resolver
    return resolver


def get_caller(
    resolver: Annotated[AskerResolver, Depends(get_asker_resolver)],
    authorization: Annotated[str | None, Header(description="`Bearer KEY`: needed when read keys are set.")] = None,
) -> Caller:
    return resolver.caller(authorization)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
VerityDep = Annotated[Verity, Depends(get_verity)]
CallerDep = Annotated[Caller, Depends(get_caller)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
