"""`verity eval` like CI and a user run it: the gate on the sample golden set (a subprocess, embedded default),
the gate catching things broken on purpose (in process, on the same store, the broken policy handed to the
harness as its answerer), and `--against` a real `verity serve`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from evals.harness import cli as eval_cli
from evals.harness.observing.inprocess import AnswererFactory
from evals.harness.reporting.report import EvalReport
from rag.bootstrap import Runtime
from rag.config import Settings
from rag.domain.cards import CardState
from rag.domain.trust import NEVER_EXPIRES_EPOCH
from rag.domain.types import Asker, AskResult
from rag.ports import CardIndex, Scope, StoredHit, Vectors
from rag.retrieval.evidence import CardEvidence
from rag.services.ask import AskPolicy, Verity
from tests.integration.conftest import (
    GOLDEN_NOW,
    ROOT,
    VENV_BIN,
    RunVerity,
    Service,
    clean_env,
    free_port,
    serve_verity,
)

pytestmark = pytest.mark.slow

GOLDEN = ROOT / "evals" / "datasets" / "golden.jsonl"
HELD_OUT = ROOT / "evals" / "datasets" / "golden-heldout.jsonl"  # never fitted on: what CI gates on
BASELINE = ROOT / "evals" / "baselines" / "golden-embedded.json"
ONLY_UNTRUSTED = {  # questions whose only relevant cards are unverified or expired at the golden instant
    json.loads(line)["id"]
    for line in GOLDEN.read_text(encoding="utf-8").splitlines()
    if json.loads(line)["expected_outcome"] in {"only_unverified", "only_expired"}
}


@pytest.fixture(scope="module")
def ci_run(
    sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Exactly what CI runs: the installed command, the embedded default store, the stored baseline."""
    out = tmp_path_factory.mktemp("eval-ci")
    env = clean_env(VERITY_DATA_DIR=str(sample_settings.data_dir))
    done = subprocess.run(
        [str(VENV_BIN / "verity"), "eval", str(HELD_OUT), "--gate", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=1700, cwd=ROOT,
    )  # fmt: skip
    return done, out


@pytest.mark.timeout(1800)  # the whole golden set, as CI runs it (about 2 min on an idle 2-core machine)
def test_the_ci_gate_passes_on_the_sample_golden_set(
    ci_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _ = ci_run
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gate: PASSED" in done.stdout
    assert "faithfulness.ragas" in done.stdout and "not run" in done.stdout  # no judge configured


def test_the_json_report_holds_every_metric_and_question(ci_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = ci_run
    report = EvalReport.model_validate_json((out / "report.json").read_text(encoding="utf-8"))
    m = report.metrics
    assert report.run.questions == len(report.questions) == 69
    assert report.run.mode == "in_process"
    assert m["citation.trusted_share"] == 1.0 and m["citation.untrusted"] == 0
    assert m["tradeoff.replay_agreement"] == 1.0  # the curve replays the pipeline's own decisions exactly
    assert m["faithfulness.ragas"] is None
    for name in ("outcome.accuracy", "refusal.only_expired.recall", "retrieval.mrr", "latency.p95_ms"):
        assert isinstance(m[name], (int, float)), name
    assert isinstance(m["faithfulness.offline"], float) and m["faithfulness.offline"] >= 0.95
    assert all(q.answered_at.isoformat().startswith("2026-11-22T12:00") for q in report.questions)
    answered = [q for q in report.questions if q.outcome == "answer"]
    assert answered and all(q.citations and q.sentences for q in answered)
    assert len(report.tradeoff) > 10
    rates = [p.answer_rate for p in report.tradeoff if p.answer_rate is not None]
    assert rates == sorted(rates, reverse=True)  # a higher threshold never answers more


def test_the_html_report_is_one_self_contained_page(ci_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = ci_run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 4 and "Gate passed" in page
    assert not re.search(r"<(?:link|img|script)\b|\bsrc=", page)
    assert page.count("<tr class=") == 69  # one row per question


def run_eval_in_process(argv: list[str], answerer: AnswererFactory) -> int:
    """`verity eval ARGV` in this process, evaluating `answerer` instead of the runtime's Verity."""
    parser = argparse.ArgumentParser(prog="verity eval")
    eval_cli.add_arguments(parser)
    return eval_cli.main(parser.parse_args(argv), answerer)


class EveryRecordVerified:
    """The card store as Verity would see it with the verification gate switched off: every record it returns
    says verified, never expiring. Everything else is the real store's."""

    def __init__(self, index: CardIndex) -> None:
        self._index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)

    def query(self, vector: Vectors, scope: Scope, n_results: int) -> list[StoredHit]:
        return [self._verified(hit) for hit in self._index.query(vector, scope, n_results)]

    def get_records(self, record_ids: Sequence[str], scope: Scope) -> list[StoredHit]:
        return [self._verified(hit) for hit in self._index.get_records(record_ids, scope)]

    @staticmethod
    def _verified(hit: StoredHit) -> StoredHit:
        facts = replace(hit.facts, state=CardState.VERIFIED, verified_until_epoch=NEVER_EXPIRES_EPOCH)
        return replace(hit, facts=facts)


def gate_switched_off(runtime: Runtime) -> Verity:
    """The runtime's Verity (same embedder, clock, policy, calibration) over a store whose records all say
    verified; the harness still checks each citation against the real card."""
    verity = runtime.verity
    index = EveryRecordVerified(runtime.index)
    return Verity(index, runtime.embedder, runtime.clock, verity.policy, None, verity.calibration)


class DoctoredAnswers:
    """Verity's answers with a sentence no card says appended, cited [1]; outcomes and ranking untouched."""

    def __init__(self, runtime: Runtime) -> None:
        self._verity = runtime.verity

    @property
    def policy(self) -> AskPolicy:
        return self._verity.policy

    def ask(self, question: str, asker: Asker) -> AskResult:
        result = self._verity.ask(question, asker)
        if result.answer is None:
            return result
        text = result.answer.text + " Every refund is paid within 97 days by cheque. [1]"
        return replace(result, answer=replace(result.answer, text=text))

    def rank_cards(
        self, text: str, vector: Vectors, asker: Asker, now: datetime, k: int
    ) -> tuple[list[CardEvidence], list[CardEvidence]]:
        return self._verity.rank_cards(text, vector, asker, now, k)


@pytest.fixture
def in_process_store(sample_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("VERITY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("VERITY_DATA_DIR", str(sample_settings.data_dir))


def regressions(stdout: str) -> dict[str, str]:
    return {m.group(1): line for line in stdout.splitlines() if (m := re.match(r"REGRESSION (\S+):", line))}


@pytest.mark.timeout(1800)
@pytest.mark.usefixtures("in_process_store")
def test_the_gate_fails_when_the_verification_gate_is_switched_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every stored record counts as verified: expired and unverified cards start answering."""
    assert run_eval_in_process([str(GOLDEN), "--gate", "--out", str(tmp_path)], gate_switched_off) == 1
    stdout = capsys.readouterr().out
    print(stdout)
    found = regressions(stdout)
    assert {"citation.trusted_share", "refusal.wrong_answers", "refusal.recall"} <= set(found)
    assert "gate: FAILED" in stdout
    report = EvalReport.model_validate_json((tmp_path / "report.json").read_text(encoding="utf-8"))
    named = set(re.findall(r"q\d{3}", found["citation.trusted_share"]))
    citing_untrusted = {q.id for q in report.questions if any(not c.verified for c in q.citations)}
    assert named == citing_untrusted  # exactly the questions that now cite expired or unverified cards
    assert len(named & ONLY_UNTRUSTED) >= 12  # above all, those whose only cards are untrusted
    assert report.metrics["citation.trusted_share"] is not None and report.metrics["citation.trusted_share"] < 1.0
    assert "Gate failed" in (tmp_path / "report.html").read_text(encoding="utf-8")


@pytest.mark.timeout(1800)
@pytest.mark.usefixtures("in_process_store")
def test_the_gate_fails_on_a_doctored_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Answers get a sentence their card never said: outcomes and citations stay, faithfulness drops."""
    assert run_eval_in_process([str(GOLDEN), "--gate", "--out", str(tmp_path)], DoctoredAnswers) == 1
    stdout = capsys.readouterr().out
    print(stdout)
    found = regressions(stdout)
    assert set(found) == {"faithfulness.offline", "faithfulness.offline_all_supported"}
    assert len(re.findall(r"q\d{3}", found["faithfulness.offline"])) >= 50  # every answer, by id
    report = EvalReport.model_validate_json((tmp_path / "report.json").read_text(encoding="utf-8"))
    flagged = [s for q in report.questions for s in q.sentences if not s.supported]
    assert flagged and all("97 days" in s.sentence for s in flagged)


@pytest.fixture(scope="module")
def served_stores(sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Two `verity serve` processes on copies of the sample store: one frozen at the golden instant, one not."""
    urls: dict[str, str] = {}
    services: list[Service] = []
    try:
        for name, frozen in (("frozen", {"VERITY_FROZEN_NOW": GOLDEN_NOW}), ("live", {})):
            data = tmp_path_factory.mktemp(f"served-{name}")
            shutil.copytree(sample_settings.data_dir, data, dirs_exist_ok=True)
            service, urls[name] = serve_verity({"VERITY_DATA_DIR": str(data), **frozen}, data / "server.log")
            services.append(service)
        yield urls
    finally:
        for service in services:
            service.stop()


@pytest.mark.timeout(1800)
def test_against_a_frozen_server_the_gate_passes_like_in_process(served_stores: dict[str, str], tmp_path: Path) -> None:
    args = [str(VENV_BIN / "verity"), "eval", str(GOLDEN), "--against", served_stores["frozen"], "--gate"]
    done = subprocess.run(
        [*args, "--out", str(tmp_path)], env=clean_env(), capture_output=True, text=True, timeout=1700, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gate: PASSED" in done.stdout
    assert "the baseline was measured in_process, this run is http" in done.stdout
    report: dict[str, Any] = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["mode"] == "http"
    assert not any("clock is not frozen" in w for w in report["run"]["warnings"])
    assert report["metrics"]["citation.trusted_share"] == 1.0
    assert report["metrics"]["tradeoff.replay_agreement"] == 1.0  # search reports the confidence ask decides on


def test_against_a_live_clock_server_the_report_says_so(
    served_stores: dict[str, str], run_verity: RunVerity, tmp_path: Path
) -> None:
    done = run_verity("eval", str(GOLDEN), "--against", served_stores["live"], "--limit", "3", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING: the server's clock is not frozen" in done.stdout
    assert "3 of 3 questions" in done.stdout


def test_an_unreachable_server_and_an_empty_store_are_clear_errors(run_verity: RunVerity, tmp_path: Path) -> None:
    done = run_verity("eval", str(GOLDEN), "--against", f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path))
    assert done.returncode == 2 and "cannot reach" in done.stderr
    done = run_verity("eval", str(GOLDEN), "--out", str(tmp_path), VERITY_DATA_DIR=str(tmp_path / "empty"))
    assert done.returncode == 2 and "holds no cards" in done.stderr
    assert "Traceback" not in done.stderr
