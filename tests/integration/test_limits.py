"""Request limits against a real `verity serve` (uvicorn) over raw sockets: what a slow, large or keyless body
costs the server, as a client on the network sees it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import serve_verity

READ_KEY = "k-limits-4d2e"
TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("limits")
    env = {
        "VERITY_DATA_DIR": str(folder / "data"),
        "VERITY_READ_KEYS": f"{READ_KEY}:",
        "VERITY_BODY_TIMEOUT_S": str(TIMEOUT_S),
    }
    service, url = serve_verity(env, folder / "serve.log")
    try:
        yield url
    finally:
        service.stop()


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def head(path: str, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: verity", "Content-Type: application/json"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test).

    A server that closes while request bytes it will not read are still in its buffer resets the connection
    (RST, not FIN) once its answer is out; what arrived before the reset is the answer, checked by the caller
    (an answer lost to the reset leaves nothing to parse and fails the test)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def status_and_problem(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    header, _, body = raw.partition(b"\r\n\r\n")
    lines = header.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_a_client_that_stalls_mid_body_gets_408_and_the_connection_closed(server: str) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(head("/v1/ask", Authorization=f"Bearer {READ_KEY}", Content_Length="200") + b'{"question": "Wh')
        raw = read_until_closed(sock)  # returns only once the server has closed the connection
        waited = time.monotonic() - started
    status, headers, problem = status_and_problem(raw)
    assert status == 408 and problem["code"] == "body_timeout"
    assert headers["content-type"] == "application/problem+json" and headers["connection"] == "close"
    assert TIMEOUT_S <= waited < TIMEOUT_S + 5


def test_a_declared_body_over_the_limit_is_refused_at_once_unread(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(head("/v1/ask", Authorization=f"Bearer {READ_KEY}", Content_Length=str(200 * 1024 * 1024)))
        status, headers, problem = status_and_problem(read_until_closed(sock))
    assert status == 413 and problem["code"] == "body_too_large" and headers["connection"] == "close"


def test_a_chunked_body_is_cut_once_it_passes_the_limit(server: str) -> None:
    """No Content-Length: the bytes are counted as they come. The client stops one chunk past the default
    limit (1 MiB) without ending the body; the server answers at once instead of waiting for the rest. (A
    client that kept sending would see the connection reset: the server reads no more of it.)"""
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    with connect(server) as sock:
        sock.sendall(head("/v1/ask", Authorization=f"Bearer {READ_KEY}", Transfer_Encoding="chunked"))
        sock.sendall(chunk * 17)  # 16 chunks are exactly 1 MiB
        status, headers, problem = status_and_problem(read_until_closed(sock))
    assert status == 413 and problem["code"] == "body_too_large" and headers["connection"] == "close"


def test_without_a_key_the_server_never_asks_for_the_body(server: str) -> None:
    """`Expect: 100-continue`: uvicorn sends `100 Continue` only when the app reads the body; the 401 comes
    first, and malformed JSON would not have mattered."""
    with connect(server) as sock:
        sock.sendall(head("/v1/ask", Content_Length="500000", Expect="100-continue"))
        raw = read_until_closed(sock)
    assert not raw.startswith(b"HTTP/1.1 100")
    status, headers, problem = status_and_problem(raw)
    assert status == 401 and problem["code"] == "unauthorized" and headers["www-authenticate"].startswith("Bearer")


def test_the_real_model_counts_the_question_in_tokens(server: str) -> None:
    key = {"Authorization": f"Bearer {READ_KEY}"}
    costly = httpx.post(f"{server}/v1/ask", json={"question": "é" * 200}, headers=key, timeout=30)
    assert costly.status_code == 422 and "the limit is 128" in costly.json()["detail"]
    typical = httpx.post(f"{server}/v1/ask", json={"question": "Can I get a refund?"}, headers=key, timeout=30)
    assert typical.status_code == 200  # an empty store: refused, but asked
