"""One embedded store, several processes (issue 16): Chroma's embedded store cannot be shared, so an ingest
into the folder of a running server is refused with what to do instead, and the server keeps answering.

Before, `verity ingest` of one changed card into a served folder left every ask and search of that server
failing (500, later 503, "Error finding id" inside Chroma) until it was restarted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rag.errors import ErrorCode, VerityError
from rag.store_lock import hold_store
from tests.integration.conftest import (
    GOLDEN_NOW,
    SAMPLE_KB,
    RunVerity,
    serve_verity,
)

QUESTION = {"question": "How do refunds work for Pro Annual plans?"}


def test_an_ingest_into_a_served_folder_is_refused_and_the_server_keeps_answering(
    tmp_path: Path, run_verity: RunVerity
) -> None:
    data = tmp_path / "data"
    source = tmp_path / "billing"
    shutil.copytree(SAMPLE_KB / "billing", source)
    env = {"VERITY_DATA_DIR": str(data), "VERITY_FROZEN_NOW": GOLDEN_NOW}
    first = run_verity("ingest", str(source), "--json", **env)
    assert first.returncode == 0, first.stderr
    service, url = serve_verity(env, tmp_path / "serve.log")
    port = url.rsplit(":", 1)[1]
    try:
        before = httpx.post(f"{url}/v1/ask", json=QUESTION, timeout=30)
        assert before.status_code == 200 and before.json()["outcome"] == "answered"
        card = source / "billing-refund-annual.md"
        card.write_text(card.read_text(encoding="utf-8").replace("30 days", "31 days"), encoding="utf-8")
        refused = run_verity("ingest", str(source), "--json", **env)
        assert refused.returncode != 0
        assert "store_unavailable" in refused.stderr and f"verity serve on port {port}" in refused.stderr
        assert "VERITY_CHROMA_HOST" in refused.stderr and "Traceback" not in refused.stderr
        for _ in range(3):
            after = httpx.post(f"{url}/v1/ask", json=QUESTION, timeout=30)
            assert after.status_code == 200, after.text
            assert after.json()["answer"] == before.json()["answer"]
    finally:
        service.stop()
    # the server gone, the folder is free: the change goes in and a new server serves it
    done = run_verity("ingest", str(source), "--json", **env)
    assert done.returncode == 0, done.stderr
    asked = run_verity("ask", QUESTION["question"], "--json", **env)
    assert "31 days" in asked.stdout


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    lock = hold_store(tmp_path, "verity serve on port 8000")
    with pytest.raises(VerityError) as caught:
        hold_store(tmp_path, "verity ingest")
    assert caught.value.code is ErrorCode.STORE_UNAVAILABLE
    assert "verity serve on port 8000" in caught.value.message and "VERITY_CHROMA_HOST" in caught.value.message
    lock.release()
    hold_store(tmp_path, "verity ingest").release()


def test_a_holder_killed_leaves_no_stale_lock(tmp_path: Path) -> None:
    code = (
        "import os, pathlib; from rag.store_lock import hold_store; "
        f"hold_store(pathlib.Path({str(tmp_path)!r}), 'x'); os.kill(os.getpid(), 9)"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    assert (tmp_path / "writer.lock").exists()
    hold_store(tmp_path, "verity ingest").release()
