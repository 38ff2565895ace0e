"""Dependencies as type aliases, so handlers read like domain code.

The asker's identity is one dependency (`AskerResolverDep`). In this slice groups arrive in the request
body, as from a trusted gateway; binding them to API keys means swapping this one dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol

from fastapi import Depends, Request

from rag.catalog import Catalog
from rag.factory import Runtime
from rag.service import Verity
from rag.types import Asker


class AskerResolver(Protocol):
    def resolve(self, requested_groups: Sequence[str]) -> Asker: ...


class TrustedGatewayResolver:
    """Takes the groups the caller states: correct only behind a gateway that sets them."""

    def resolve(self, requested_groups: Sequence[str]) -> Asker:
        return Asker(groups=frozenset(requested_groups), subject="gateway")


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


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
VerityDep = Annotated[Verity, Depends(get_verity)]
AskerResolverDep = Annotated[AskerResolver, Depends(get_asker_resolver)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
