"""Observe a golden set through a running Verity over HTTP, like any client: POST /v1/ask and /v1/search.

Citations are checked against GET /v1/cards/{id} with the asker's groups (a 404 there means the asker may
not see the card: the citation should never have been given). The server's verification clock cannot be
set from outside: each answer's `as_of` is compared with the question's, and every question answered at
another instant is reported, since expiry-dependent verdicts then stop meaning what the dataset says.
Latency is the round trip as the client sees it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx

from api.schemas import AskPublic, CardPublic, SearchPublic
from evals.golden import GoldenQuestion, Verdict
from evals.harness.observing.observation import Observation, RankedCard, best_scores, check_citation
from rag.domain.cards import Card


class HttpEvalError(RuntimeError):
    """The server could not be used for the run (unreachable, or it answered with an error)."""


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)
    return str(body)[:300]


def verdict_from_public(q: GoldenQuestion, result: AskPublic, latency_ms: float) -> Verdict:
    """Pure: the golden verdict of an /v1/ask response."""
    if result.refusal is None:
        top = max((c.rank_score for c in result.citations), default=None)
        return Verdict(q, "answer", tuple(c.card_id for c in result.citations), (), top, latency_ms)
    candidates = tuple(c.card_id for c in result.refusal.candidates)
    return Verdict(q, result.refusal.reason.value, (), candidates, None, latency_ms)


class HttpLookup:
    """GET /v1/cards/{id} with the asker's groups; None for a 404 (missing, or hidden from the asker)."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self._cache: dict[tuple[str, tuple[str, ...]], Card | None] = {}

    def card(self, card_id: str, groups: Sequence[str]) -> Card | None:
        key = (card_id, tuple(sorted(groups)))
        if key not in self._cache:
            response = self._client.get(f"/v1/cards/{card_id}", params={"groups": list(key[1])})
            if response.status_code == 404:
                self._cache[key] = None
            elif response.is_success:
                self._cache[key] = CardPublic.model_validate(response.json()).card
            else:
                raise HttpEvalError(f"GET /v1/cards/{card_id}: {response.status_code} {_problem(response)}")
        return self._cache[key]


class HttpObserver:
    def __init__(self, base_url: str, top_k: int, api_key: str | None = None, timeout_s: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)
        self._base_url = base_url.rstrip("/")
        self._top_k = top_k
        self._lookup = HttpLookup(self._client)
        self.clock_mismatches: list[str] = []  # ids of questions the server answered at another instant

    @property
    def target(self) -> str:
        return f"over HTTP ({self._base_url})"

    def close(self) -> None:
        self._client.close()

    def check_health(self) -> dict[str, Any]:
        try:
            response = self._client.get("/healthz")
        except httpx.HTTPError as exc:
            raise HttpEvalError(f"cannot reach {self._base_url}: {exc}") from None
        if not response.is_success:
            raise HttpEvalError(f"{self._base_url}/healthz: {response.status_code} {_problem(response)}")
        body: dict[str, Any] = response.json()
        return body

    def _post(self, path: str, payload: dict[str, object]) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        try:
            response = self._client.post(path, json=payload)
        except httpx.HTTPError as exc:
            raise HttpEvalError(f"POST {path}: {exc}") from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not response.is_success:
            raise HttpEvalError(f"POST {path}: {response.status_code} {_problem(response)}")
        body: dict[str, Any] = response.json()
        return body, elapsed_ms

    def observe_one(self, q: GoldenQuestion) -> Observation:
        body, latency_ms = self._post("/v1/ask", {"question": q.question, "groups": q.groups})
        result = AskPublic.model_validate(body)
        if result.as_of != q.as_of:
            self.clock_mismatches.append(q.id)
        found, _ = self._post("/v1/search", {"query": q.question, "groups": q.groups, "top_k": self._top_k})
        search = SearchPublic.model_validate(found)
        ranking = tuple(RankedCard(h.card_id, h.trust.status, h.rank_score) for h in search.results)
        best_trusted, best_untrusted = best_scores([(h.trust.status, h.relevance) for h in search.results])
        citations = tuple(
            check_citation(
                c.marker, c.card_id, c.snippet, self._lookup.card(c.card_id, q.groups), q.groups, result.as_of
            )
            for c in result.citations
        )
        return Observation(
            verdict=verdict_from_public(q, result, latency_ms),
            answer=result.answer,
            citations=citations,
            ranking=ranking,
            answered_at=result.as_of,
            best_trusted=best_trusted,
            best_untrusted=best_untrusted,
        )
