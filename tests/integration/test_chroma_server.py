"""Server mode for real: `chroma run` as a process, Verity talking to it through HttpClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.errors import ErrorCode, VerityError
from rag.factory import build_runtime
from rag.settings import Settings
from rag.types import Asker
from tests.fakes import HashEmbedder
from tests.integration.conftest import GOLDEN_NOW, SAMPLE_KB, VENV_BIN, RunVerity, Service, clean_env, free_port


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    service = Service(
        [str(VENV_BIN / "chroma"), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/api/v2/heartbeat",
        clean_env(),
        data / "chroma.log",
    )
    yield port
    service.stop()


def test_ingest_and_ask_through_a_chroma_server(chroma_port: int, run_verity: RunVerity, tmp_path: Path) -> None:
    env = {
        "VERITY_CHROMA_HOST": "127.0.0.1",
        "VERITY_CHROMA_PORT": str(chroma_port),
        "VERITY_DATA_DIR": str(tmp_path / "unused"),
        "VERITY_FROZEN_NOW": GOLDEN_NOW,
    }
    ingest = run_verity("ingest", str(SAMPLE_KB / "billing"), "--json", **env)
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["added"] == 10
    assert not (tmp_path / "unused").exists()  # nothing was written to the embedded store
    ask = run_verity("ask", "What does error E-4012 mean?", "--json", **env)
    assert ask.returncode == 0, ask.stderr
    body = json.loads(ask.stdout)
    assert body["outcome"] == "answered"
    assert body["citations"][0]["card_id"] == "billing-failed-payment-e4012"
    restricted = run_verity("ask", "How do we handle a chargeback dispute?", "--json", **env)
    assert "billing-chargeback-handling" not in restricted.stdout
    settings = Settings(chroma_host="127.0.0.1", chroma_port=chroma_port)
    runtime = build_runtime(settings)
    runtime.index.ping()
    hits = runtime.verity.search("chargeback", Asker(groups=frozenset({"finance"}))).hits
    assert "billing-chargeback-handling" in [h.facts.card_id for h in hits]


def test_an_unreachable_server_is_a_clear_error(run_verity: RunVerity) -> None:
    port = free_port()
    result = run_verity("ask", "anything", VERITY_CHROMA_HOST="127.0.0.1", VERITY_CHROMA_PORT=str(port))
    assert result.returncode == 2
    assert "store_unavailable" in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr


def test_embedder_mismatch_is_a_startup_error(chroma_port: int) -> None:
    settings = Settings(chroma_host="127.0.0.1", chroma_port=chroma_port, collection="mismatch-test")
    build_runtime(settings, embedder=HashEmbedder(dim=64, name="model-a"))
    with pytest.raises(VerityError) as info:
        build_runtime(settings, embedder=HashEmbedder(dim=32, name="model-b"))
    assert info.value.code is ErrorCode.EMBEDDER_MISMATCH
    assert "model-a" in info.value.message
    assert "VERITY_COLLECTION" in info.value.message
