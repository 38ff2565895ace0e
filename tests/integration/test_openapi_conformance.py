"""The OpenAPI document is the contract: schemathesis drives `verity serve` from it, with the project's own keys
and without any, and every response must be documented (status, content type, schema), never a 5xx, schema-
valid requests accepted and schema-invalid ones rejected, and a 405 must say `Allow`.

CI runs a bounded number of examples per operation (VERITY_SCHEMATHESIS_EXAMPLES, default 25); by hand:
`VERITY_SCHEMATHESIS_EXAMPLES=1000 pytest -s tests/integration/test_openapi_conformance.py`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from tests.integration.conftest import GOLDEN_NOW, SAMPLE_KB, VENV_BIN, clean_env, serve_verity

KEY = "k-conformance-7f3a"  # a read key and a write key of every group
EXAMPLES = int(os.environ.get("VERITY_SCHEMATHESIS_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("conformance")
    kb = root / "kb"
    shutil.copytree(SAMPLE_KB / "billing", kb)
    env = {
        "VERITY_DATA_DIR": str(root / "data"),
        "VERITY_FROZEN_NOW": GOLDEN_NOW,
        "VERITY_READ_KEYS": f"{KEY}:finance,support;k-other:support",
        "VERITY_WRITE_KEYS": f"{KEY}:finance,support",
    }
    ingest = subprocess.run(
        [str(VENV_BIN / "verity"), "ingest", str(kb)], env=clean_env(**env), capture_output=True, text=True
    )
    assert ingest.returncode == 0, ingest.stderr
    server, url = serve_verity(env, root / "verity.log")
    yield url
    server.stop()


def _schemathesis(url: str, *headers: str, seed: int) -> tuple[int, str]:
    args = [
        str(VENV_BIN / "st"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(seed),
        "--no-color",
        "--request-timeout",
        "60",
        "--suppress-health-check",
        "all",
    ]
    for header in headers:
        args += ["-H", header]
    # cwd: schemathesis keeps a .schemathesis/ folder where it runs
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=1500, env=clean_env(), cwd=tempfile.gettempdir()
    )
    return done.returncode, done.stdout + done.stderr


def _report(output: str) -> str:
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    cases = re.search(r"(\d+) generated", summary)
    return f"{cases.group(1) if cases else '?'} test cases\n{summary}"


@pytest.mark.parametrize("with_key", [True, False], ids=["with a key", "without a key"])
def test_every_response_conforms_to_the_openapi_document(base: str, with_key: bool) -> None:
    headers = [f"Authorization: Bearer {KEY}"] if with_key else []
    code, output = _schemathesis(base, *headers, seed=20261202)
    print("\n" + _report(output))
    assert code == 0, output[-12000:]
