"""A real `verity serve` over the sample knowledge base, and large request bodies sent to it."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]


VERITY = Path(sys.executable).parent / "verity"


GOLDEN_NOW = "2026-11-22T12:00:00Z"


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
