"""ragas' LLM path for real: faithfulness judged by SmolLM2-135M behind llama-cpp-python's OpenAI-compatible
server (the same real-model tier as test_llm_real.py, and the same VERITY_REQUIRE_LLM_TIER rule).

The model is a weak judge: these tests check that the judge ran, was asked at the endpoint given and no
other, and that its scores come back as numbers beside the offline score, not that they are right.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import build_parser
from evals.harness.reporting.report import EvalReport
from evals.harness.scoring.judge import JudgeConfig, build_judge_llm
from rag.config import Settings
from tests.integration.conftest import ROOT
from tests.integration.test_llm_real import llm_url

pytestmark = pytest.mark.llm

__all__ = ["llm_url"]  # the fixture that starts the real model server (module scope)

GOLDEN = ROOT / "evals" / "datasets" / "golden.jsonl"


def test_the_judge_talks_only_to_the_endpoint_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-meant-for-openai")
    llm = build_judge_llm(JudgeConfig(base_url="http://judge.example:8080/v1", model="m"))
    client = llm.client.client  # instructor's wrapper around the AsyncOpenAI client
    assert str(client.base_url) == "http://judge.example:8080/v1/"
    assert client.api_key == "no-key"  # the OpenAI key in the environment is never sent elsewhere
    with pytest.raises(ValueError, match="http"):
        JudgeConfig(base_url="", model="m")


@pytest.mark.timeout(1800)  # constrained decoding on a tiny CPU model: minutes per answer on a busy machine
def test_ragas_faithfulness_scores_an_answer_with_the_real_judge(
    llm_url: str, sample_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VERITY_DATA_DIR", str(sample_settings.data_dir))
    argv = ["eval", str(GOLDEN), "--limit", "1", "--out", str(tmp_path)]
    argv += ["--judge-url", llm_url, "--judge-model", "smollm2", "--judge-max-tokens", "256", "--judge-timeout", "900"]
    args = build_parser().parse_args(argv)
    assert args.func(args) == 0
    report = EvalReport.model_validate_json((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report.run.judge is not None and llm_url in report.run.judge
    answered = [q for q in report.questions if q.outcome == "answer"]
    assert len(answered) == 1  # the first golden question is answered by the sample knowledge base
    scored = [q.ragas_faithfulness for q in answered if q.ragas_faithfulness is not None]
    assert scored, [q.ragas_error for q in answered]
    assert all(0.0 <= s <= 1.0 for s in scored)
    m = report.metrics
    assert m["faithfulness.ragas_scored"] == len(scored)
    assert isinstance(m["faithfulness.ragas"], float)
    assert m["faithfulness.agreement"] is not None  # beside the offline score, which always runs
    assert isinstance(m["faithfulness.offline"], float)
