"""The HTML page (self-contained, escaped) and `verity eval`'s argument checks, which fail before any work."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.cli import build_parser
from evals.harness.reporting.gate import GateResult, Regression
from evals.harness.reporting.html import render
from evals.harness.reporting.report import CitationRow, EvalReport, QuestionRow, RunInfo, SentenceRow, TradeoffRow

AS_OF = datetime(2026, 11, 22, 12, tzinfo=UTC)


def sample_report() -> EvalReport:
    rows = [
        QuestionRow(
            id="q1", question="<script>alert(1)</script> refund?", language="en", groups=["finance"],
            expected_outcome="answer", expected_card_ids=["a"], outcome="answer", correct=False,
            answer="Refunds & <b>credits</b>. [1]",
            citations=[CitationRow(marker=1, card_id="a", snippet="s", visible=True, verified=False)],
            candidates=[], ranking=["a"], answered_at=AS_OF, best_trusted=0.41, best_untrusted=None,
            latency_ms=12.5, offline_faithfulness=0.5,
            sentences=[SentenceRow(sentence="Made up <i>. [1]", supported=False, problem="unsupported", support=0.3)],
            ragas_faithfulness=None, ragas_error="judge timed out",
            checks={"outcome": False, "trusted_citations": False, "faithful": False, "retrieved": True},
        ),
        QuestionRow(
            id="q2", question="weather?", language="en", groups=[], expected_outcome="no_evidence",
            expected_card_ids=[], outcome="no_evidence", correct=True, answer=None, citations=[], candidates=[],
            ranking=["b"], answered_at=AS_OF, best_trusted=0.1, best_untrusted=None, latency_ms=8.0,
            offline_faithfulness=None, sentences=[],
            checks={"outcome": True, "trusted_citations": True, "faithful": True, "retrieved": True},
        ),
    ]  # fmt: skip
    run = RunInfo(
        dataset="golden.jsonl", dataset_sha256="0" * 64, questions=2, mode="in_process", target="in process",
        started_at=AS_OF, seconds=3.0, top_k=10, answer_confidence=0.28, untrusted_margin=0.02,
        judge=None, warnings=["server clock <not> frozen"],
    )  # fmt: skip
    curve = [TradeoffRow(threshold=t, answer_rate=1 - t, wrong_answer_rate=0.5 - t) for t in (0.1, 0.28, 0.45)]
    metrics = {"outcome.accuracy": 0.5, "citation.trusted_share": 0.0, "latency.p50_ms": 10.25, "latency.p95_ms": 12.4}
    return EvalReport(run=run, metrics=metrics, tradeoff=curve, questions=rows)


def test_html_is_self_contained_and_escapes_everything_it_quotes() -> None:
    gate = GateResult(regressions=[Regression("citation.trusted_share", 1.0, 0.0, 1.0, "trusted_citations", ("q1",))])
    page = render(sample_report(), gate)
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;credits&lt;/b&gt;" in page and "server clock &lt;not&gt; frozen" in page
    assert page.count("<svg") == 4  # decision scores, trade-off, faithfulness, latency: inline
    assert not re.search(r"<(?:link|img|script)\b|\bsrc=", page)  # nothing fetched from elsewhere
    assert "Gate failed" in page and "newly failing trusted_citations: q1" in page
    assert "not verified" in page and "unsupported (unsupported)" in page and "judge timed out" in page


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(["eval", *argv])
    code: int = args.func(args)
    return code


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["d.jsonl", "--limit", "3", "--gate"], "--limit measures part of the set"),
        (["d.jsonl", "--top-k", "0"], "--top-k must be between 1 and 50"),
        (["d.jsonl", "--against", "localhost:8000"], "http:// or https://"),
        (["d.jsonl", "--against", "http://x", "--kb", "kb"], "cannot be combined"),
        (["d.jsonl", "--judge-model", "m"], "both --judge-url and --judge-model"),
        (["d.jsonl", "--judge-url", "ftp://x", "--judge-model", "m"], "http:// or https://"),
    ],
)
def test_bad_arguments_fail_at_once_with_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    assert message in capsys.readouterr().err


def test_a_bad_dataset_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "set.jsonl"
    good = (
        '{"id": "q1", "question": "?", "language": "en", "expected_card_ids": [], '
        '"expected_outcome": "no_evidence", "as_of": "2026-11-22T12:00:00Z"}'
    )
    dataset.write_text(good + "\n\n" + good.replace("no_evidence", "maybe") + "\n", encoding="utf-8")
    assert run([str(dataset)]) == 2
    assert f"{dataset}:3:" in capsys.readouterr().err
    dataset.write_text(good + "\n" + good + "\n", encoding="utf-8")
    assert run([str(dataset)]) == 2
    assert "repeats line 1" in capsys.readouterr().err
    assert run([str(tmp_path / "missing.jsonl")]) == 2
    assert "no dataset at" in capsys.readouterr().err
