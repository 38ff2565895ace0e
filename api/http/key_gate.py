"""Keys are checked before a route reads its body.

FastAPI parses a JSON body before it resolves a route's dependencies, so the key dependencies alone (api/http/auth.py
`require_writer`, api/http/deps.py `get_caller`) let a request without a key make the server read and parse its
body, and learn whether it was well formed (422 before 401). api/http/limits.py asks `key_refusal` when the chosen
route first asks for its body, and answers 401 instead of handing over a byte. Which key a route needs is read
from the route's own dependencies, so the two cannot drift; the dependencies still check (and resolve the
caller), and they alone check the routes that read no body:
- a route that depends on `require_writer` needs a write key (VERITY_WRITE_KEYS), always;
- a route that depends on `get_caller` needs a read key when the app's resolver asks for one (VERITY_READ_KEYS
  set); behind a trusted gateway it needs none;
- every other route (/healthz, the web page and its files, /openapi.json, /docs) needs nothing here. `/mcp`
  checks its key itself, before it reads a byte (api/mcp/http.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum

from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.types import Scope

from api.http.auth import bearer_token, matching_key, require_writer
from api.http.deps import AskerResolver, get_caller
from api.http.errors import STATUS_OF, problem
from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError

WRITE_KEY_NEEDED = "this endpoint needs a valid write key: Authorization: Bearer KEY"  # as require_writer says


class Need(Enum):
    NOTHING = "nothing"
    READ_KEY = "read key"
    WRITE_KEY = "write key"


def write_keys(settings: Settings) -> list[str]:
    """The valid write keys, read as `require_writer` reads them (whatever groups each one writes): the one
    place this module reads them."""
    return list(settings.write_key_groups())


def _calls(dependant: Dependant) -> Iterator[Callable[..., object] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def route_need(route: APIRoute) -> Need:
    """What a route's own dependencies require of the caller."""
    calls = set(_calls(route.dependant))
    if require_writer in calls:
        return Need.WRITE_KEY
    if get_caller in calls:
        return Need.READ_KEY
    return Need.NOTHING


def unauthorized(exc: VerityError, instance: str) -> JSONResponse:
    """The answer api/http/errors.py gives `exc`."""
    response = problem(STATUS_OF.get(exc.code, 500), exc.code.value, exc.message, instance)
    if exc.code is ErrorCode.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = 'Bearer realm="verity"'
    return response


def need_of(scope: Scope) -> Need:
    """What the route chosen for this request (`scope["route"]`, set by FastAPI's router) needs."""
    route = scope.get("route")
    return route_need(route) if isinstance(route, APIRoute) else Need.NOTHING


def key_refusal(scope: Scope) -> JSONResponse | None:
    """The 401 of a request whose route needs a key it does not present, from its headers alone; None when it
    may go on."""
    state = scope["app"].state
    runtime = getattr(state, "runtime", None)
    resolver: AskerResolver | None = getattr(state, "asker_resolver", None)
    if runtime is None or resolver is None:  # no lifespan has run: the dependencies decide, as before
        return None
    authorization = Headers(scope=scope).get("authorization")
    try:
        need = need_of(scope)
        if need is Need.WRITE_KEY:
            if matching_key(bearer_token(authorization), write_keys(runtime.settings)) is None:
                raise VerityError(ErrorCode.UNAUTHORIZED, WRITE_KEY_NEEDED)
        elif need is Need.READ_KEY:
            resolver.caller(authorization)  # the dependency's own resolver: the same keys, the same answer
    except VerityError as exc:
        return unauthorized(exc, scope["path"])
    return None
