"""Streaming over real HTTP: a real `verity serve` process with the LLM answerer, in front of a slow
OpenAI-compatible chat server that streams a long reply. A client that reads the first sentence and hangs
up must make Verity close the model's connection long before the reply is over."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import RunVerity, serve_verity

SENTENCE = "Pro Annual plans can be refunded in full within 30 days of purchase. [1] "
TOKENS = SENTENCE.split(" ")[:-1]
REPEATS = 60  # 60 sentences, ~780 deltas at 15 ms: ~12 s if nobody stops it
DELAY_S = 0.015

CARD = {
    "id": "refund-pro-annual",
    "title": "Refunds for Pro Annual plans",
    "body": "Pro Annual plans can be refunded in full within 30 days of purchase. After 30 days we refund "
    "the unused months.",
    "collection": "billing",
    "state": "verified",
    "verified_at": "2026-11-01T00:00:00Z",
    "verify_interval_days": 365,
    "verifier": "kb@orbita.example",
}


class SlowChat:
    """Counts the deltas it sent and notices when the reader went away."""

    def __init__(self) -> None:
        self.sent = 0
        self.requests = 0
        self.hung_up = threading.Event()
        self.finished = threading.Event()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                chat.requests += 1
                assert body.get("stream") is True
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for _ in range(REPEATS):
                        for token in TOKENS:
                            self._chunk({"content": token + " "})
                            chat.sent += 1
                            time.sleep(DELAY_S)
                    self._chunk({}, finish="stop")
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    chat.finished.set()
                except (BrokenPipeError, ConnectionResetError):
                    chat.hung_up.set()

            def _chunk(self, delta: dict[str, str], finish: str | None = None) -> None:
                payload = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "slow",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

        return Handler


@pytest.fixture
def slow_chat() -> Iterator[tuple[str, SlowChat]]:
    chat = SlowChat()
    server = ThreadingHTTPServer(("127.0.0.1", 0), chat.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", chat
    finally:
        server.shutdown()


@pytest.mark.parametrize("unsupported", ["drop", "refuse"])
def test_a_client_that_hangs_up_stops_generation(
    unsupported: str, slow_chat: tuple[str, SlowChat], tmp_path: Path, run_verity: RunVerity
) -> None:
    """drop: hang up after the first sentence. refuse: nothing is sent before the whole reply passed, so
    the client hangs up after a second of silence, while Verity is still reading the model."""
    url, chat = slow_chat
    source = tmp_path / "cards.jsonl"
    source.write_text(json.dumps(CARD) + "\n")
    env = {
        "VERITY_DATA_DIR": str(tmp_path / "data"),
        "VERITY_ANSWERER": "llm",
        "VERITY_LLM_BASE_URL": url,
        "VERITY_LLM_MODEL": "slow",
        "VERITY_FROZEN_NOW": "2026-11-22T12:00:00Z",
        "VERITY_LLM_UNSUPPORTED": unsupported,
    }
    ingest = run_verity("ingest", str(source), **env)
    assert ingest.returncode == 0, ingest.stderr
    service, url = serve_verity(env, tmp_path / "serve.log")
    try:
        question = {"question": "Can a Pro Annual plan be refunded within 30 days?", "stream": True}
        first: dict[str, object] = {}
        with httpx.stream("POST", f"{url}/v1/ask", json=question, timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            if unsupported == "drop":
                lines = response.iter_lines()
                for line in lines:
                    if line == "event: text":
                        first = json.loads(next(lines).removeprefix("data: "))
                        break
            else:
                time.sleep(1.0)
        sent_at_hangup = chat.sent
        assert sent_at_hangup > 0
        if unsupported == "drop":
            assert first == {"text": SENTENCE.strip()}  # a whole, guarded sentence
        assert chat.hung_up.wait(5), "Verity kept reading the model after its client went away"
        total = REPEATS * len(TOKENS)
        assert chat.sent < sent_at_hangup + 60 < total
        assert not chat.finished.is_set()
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        service.stop()
    assert "Traceback" not in (tmp_path / "serve.log").read_text(errors="replace")
