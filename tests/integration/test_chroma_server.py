"""Server mode for real: `chroma run` as a process, Verity talking to it through HttpClient."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rag.adapters.chroma.collection import build_client
from rag.adapters.chroma.index import ChromaCardIndex
from rag.bootstrap import build_runtime
from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker, RecordKind
from rag.ports import CardVersion, IndexRecord
from tests.builders import make_card
from tests.fakes import HashEmbedder
from tests.integration.conftest import (
    GOLDEN_NOW,
    SAMPLE_KB,
    VENV_BIN,
    RunVerity,
    Service,
    clean_env,
    free_port,
    serve_verity,
)


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


def test_replicas_sharing_one_chroma_server_agree_after_a_change(chroma_port: int, tmp_path: Path) -> None:
    """Two API processes, one Chroma server: a card written through one is found (also by its exact code,
    through the lexical index) by the other, and a deleted card disappears from both."""
    env = clean_env(
        VERITY_CHROMA_HOST="127.0.0.1",
        VERITY_CHROMA_PORT=str(chroma_port),
        VERITY_COLLECTION="replicas",
        VERITY_WRITE_KEYS="replica-key",
        VERITY_FROZEN_NOW=GOLDEN_NOW,
    )
    distractors = subprocess.run(
        [str(VENV_BIN / "verity"), "ingest", str(SAMPLE_KB / "features")], env=env, capture_output=True, timeout=600
    )
    assert distractors.returncode == 0, distractors.stderr
    replicas = []
    try:
        for name in ("a", "b"):
            service, url = serve_verity(env, tmp_path / f"{name}.log")
            replicas.append((url, service))
        (a, _), (b, _) = replicas
        card = {
            "id": "hub-error-zx9001",
            "title": "Hub firmware error ZX-9001",
            "body": "Error ZX-9001 on the Orbita Hub means the firmware signature check failed. "
            "Ask the customer to restart the Hub; it downloads the firmware again.",
            "state": "verified",
            "verified_at": "2026-11-20T00:00:00Z",
            "verifier": "sam.carter@orbita.example",
            "language": "en",
        }
        auth = {"Authorization": "Bearer replica-key"}
        assert httpx.put(f"{a}/v1/cards/{card['id']}", json=card, headers=auth, timeout=60).status_code == 200
        found = _poll(lambda: _top_card(b, "ZX-9001") == card["id"])
        assert found, "replica b never found the card written through replica a"
        assert httpx.delete(f"{a}/v1/cards/{card['id']}", headers=auth, timeout=60).status_code == 204
        assert _top_card(b, "ZX-9001") != card["id"]  # the store filter hides it at once, whatever b cached
    finally:
        for _, service in replicas:
            service.stop()


def _top_card(base: str, query: str) -> str | None:
    results = httpx.post(f"{base}/v1/search", json={"query": query, "top_k": 1}, timeout=30).json()["results"]
    return str(results[0]["card_id"]) if results else None


def _poll(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def test_lexical_indexes_of_two_clients_follow_the_shared_collection(chroma_port: int) -> None:
    settings = Settings(chroma_host="127.0.0.1", chroma_port=chroma_port, collection="lexical-replicas")
    embedder = HashEmbedder(dim=32, name="hash-32")
    writer = ChromaCardIndex(build_client(settings), settings.collection, embedder.name, embedder.dim)
    reader = ChromaCardIndex(
        build_client(settings), settings.collection, embedder.name, embedder.dim, lexical_ttl_s=0.0
    )
    assert reader.lexical_index().search("QX-5151", 3) == []
    card = make_card(id="qx", title="Error QX-5151", body="Error QX-5151 means the export timed out.")
    records = [IndexRecord("qx::v1::chunk::0", RecordKind.CHUNK, 0, f"{card.title}\n\n{card.body}", card.body)]
    writer.replace_card(card, CardVersion("v1", "m1"), records, embedder.embed_passages([card.body]))
    assert [h.record_id for h in reader.lexical_index().search("QX-5151", 3)] == ["qx::v1::chunk::0"]
    writer.delete_card("qx")
    assert reader.lexical_index().search("QX-5151", 3) == []
