"""The OpenAPI document is the contract: schemathesis drives `verity serve` from it, with the project's own keys
and without any (and the ratings listing with a write key of every card, the only key it answers), and every
response must be documented (status, content type, schema), never a 5xx, schema-
valid requests accepted and schema-invalid ones rejected, and a 405 must say `Allow`.

CI runs a bounded number of examples per operation (VERITY_SCHEMATHESIS_EXAMPLES, default 25: about 950
requests and 2 minutes a variant on 2 cores) with a fixed seed (VERITY_SCHEMATHESIS_SEED, default 20261202).
A long run is several seeds, summed; by hand:
`VERITY_SCHEMATHESIS_EXAMPLES=600 VERITY_SCHEMATHESIS_SEED=1 pytest -s tests/integration/test_openapi_conformance.py`.
The requests the server answered and its 5xx are counted from its access log and printed with the summary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import GOLDEN_NOW, SAMPLE_KB, VENV_BIN, clean_env, serve_verity

pytestmark = pytest.mark.slow

KEY = "k-conformance-7f3a"  # a read key and a write key of every group (of every card, in `every_card`)
EXAMPLES = int(os.environ.get("VERITY_SCHEMATHESIS_EXAMPLES", "25"))
SEED = int(os.environ.get("VERITY_SCHEMATHESIS_SEED", "20261202"))
ACCESS = re.compile(rb'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')  # uvicorn's access log line


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def statuses(self, since: int) -> tuple[Counter[int], list[str]]:
        """The status codes of the requests logged after byte `since` of the log, and the 5xx lines."""
        lines = self.log.read_bytes()[since:].splitlines()
        found = [(m, line) for line in lines if (m := ACCESS.search(line))]
        statuses = Counter(int(m.group(3)) for m, _ in found)
        errors = [line.decode(errors="replace") for m, line in found if m.group(3).startswith(b"5")]
        return statuses, errors


def _serve(root: Path, write_keys: str, kb: Path | None) -> Iterator[Server]:
    env = {
        "VERITY_DATA_DIR": str(root / "data"),
        "VERITY_FROZEN_NOW": GOLDEN_NOW,
        "VERITY_READ_KEYS": f"{KEY}:finance,support;k-other:support",
        "VERITY_WRITE_KEYS": write_keys,
    }
    if kb is not None:
        ingest = subprocess.run(
            [str(VENV_BIN / "verity"), "ingest", str(kb)], env=clean_env(**env), capture_output=True, text=True
        )
        assert ingest.returncode == 0, ingest.stderr
    server, url = serve_verity(env, root / "verity.log")
    yield Server(url, root / "verity.log")
    server.stop()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("conformance")
    kb = root / "kb"
    shutil.copytree(SAMPLE_KB / "billing", kb)
    yield from _serve(root, f"{KEY}:finance,support", kb)


@pytest.fixture(scope="module")
def every_card(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """KEY as a write key of the comma-separated form, which writes every card; no cards needed."""
    yield from _serve(tmp_path_factory.mktemp("conformance-every-card"), KEY, None)


def _schemathesis(url: str, *headers: str, seed: int, only: str | None = None) -> tuple[int, str]:
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
    if only is not None:
        args += ["--include-path", only]
    # cwd: schemathesis keeps a .schemathesis/ folder where it runs
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=1500, env=clean_env(), cwd=tempfile.gettempdir()
    )
    return done.returncode, done.stdout + done.stderr


def _report(output: str) -> str:
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    cases = re.search(r"(\d+) generated", summary)
    return f"{cases.group(1) if cases else '?'} test cases\n{summary}"


def _conforms(server: Server, *headers: str, only: str | None = None) -> None:
    """schemathesis passes, and the server's access log shows no 5xx among the requests it answered."""
    since = server.log.stat().st_size
    code, output = _schemathesis(server.url, *headers, seed=SEED, only=only)
    statuses, errors = server.statuses(since)
    answered = sum(statuses.values())
    by_status = dict(sorted(statuses.items()))
    print(f"\nseed {SEED}, {EXAMPLES} examples: {answered} requests answered, by status {by_status}")
    print(_report(output))
    assert code == 0, output[-12000:]
    assert not errors, errors[:20]


@pytest.mark.parametrize("with_key", [True, False], ids=["with a key", "without a key"])
def test_every_response_conforms_to_the_openapi_document(base: Server, with_key: bool) -> None:
    _conforms(base, *([f"Authorization: Bearer {KEY}"] if with_key else []))


def test_listing_ratings_conforms_with_a_write_key_of_every_card(every_card: Server) -> None:
    """GET /v1/feedback answers only a write key of every card (no ':groups'); KEY above is bound to groups and
    gets 403 there, so the listing (its 200s, its paging) is driven here with an unbound one."""
    _conforms(every_card, f"Authorization: Bearer {KEY}", only="/v1/feedback")


def test_a_ratings_page_past_the_largest_id_is_a_422(every_card: Server) -> None:
    """Found by the test above at 2,000 examples (seed 2): `before` above SQLite's INTEGER was a 500."""
    response = httpx.get(
        f"{every_card.url}/v1/feedback",
        params={"before": str(2**63)},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert response.status_code == 422, response.text
