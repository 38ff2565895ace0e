"""Arguments and entry point of `verity eval`.

Top-level imports stay light: `verity --help` imports this module to build its parser. Exit codes: 0 done
(and the gate passed, with --gate), 1 the gate found a regression, 2 the run could not be made (bad
dataset, empty store, unreachable server, bad baseline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from evals.harness.errors import EvalError

if TYPE_CHECKING:
    from evals.harness.observing.inprocess import AnswererFactory
    from evals.harness.reporting.gate import GateResult
    from evals.harness.reporting.report import EvalReport
    from evals.harness.scoring.judge import JudgeConfig

BASELINES = Path(__file__).resolve().parents[1] / "baselines"


def default_baseline(dataset: Path) -> Path:
    """Each dataset has its own baseline: `golden.jsonl` -> baselines/golden-embedded.json."""
    return BASELINES / f"{dataset.stem}-embedded.json"


DEFAULT_OUT = Path(".verity") / "eval"
SUMMARY = (
    "outcome.accuracy",
    "answer.expected_card_cited",
    "refusal.precision",
    "refusal.recall",
    "refusal.wrong_answers",
    "citation.precision",
    "citation.recall",
    "citation.trusted_share",
    "faithfulness.offline",
    "faithfulness.ragas",
    "faithfulness.agreement",
    "retrieval.recall@5",
    "retrieval.mrr",
    "latency.p50_ms",
    "latency.p95_ms",
    "latency.p50_vs_floor",
    "latency.p95_vs_floor",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `verity eval`."""
    parser.add_argument("dataset", type=Path, help="golden set, JSONL (format: evals/datasets/README.md)")
    parser.add_argument(
        "--against", metavar="URL", help="a running Verity (http://host:port); default: in process, from settings"
    )
    parser.add_argument("--api-key-file", type=Path, help="with --against: file holding a read key for the server")
    parser.add_argument(
        "--kb", type=Path, help="in process: ingest these cards into a throwaway store first and evaluate on it"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    parser.add_argument("--top-k", type=int, default=10, help="search depth for retrieval recall@k and MRR (1-50)")
    parser.add_argument("--limit", type=int, help="only the first N questions (quick runs; not for the gate)")
    parser.add_argument("--gate", action="store_true", help="exit 1 when a metric regressed beyond its tolerance")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="baseline file for --gate (default: baselines/DATASET-embedded.json)",
    )
    parser.add_argument(
        "--write-baseline", action="store_true", help="store this run as the baseline (keeps its tolerances)"
    )
    judge = parser.add_argument_group("LLM judge (ragas faithfulness; not run without one)")
    judge.add_argument("--judge-url", metavar="URL", help="OpenAI-compatible endpoint, e.g. http://host:8080/v1")
    judge.add_argument("--judge-model", help="model name at that endpoint")
    judge.add_argument("--judge-key-file", type=Path, help="file holding the endpoint's API key, if it needs one")
    judge.add_argument(
        "--judge-mode", choices=("tools", "json"), default="tools", help="structured output: tools (default) or json"
    )
    judge.add_argument("--judge-max-tokens", type=int, default=512)
    judge.add_argument("--judge-timeout", type=float, default=120.0, help="seconds per judge request")


def main(args: argparse.Namespace, answerer: AnswererFactory | None = None) -> int:
    """`answerer`: in process, what to evaluate instead of the runtime's `Verity` (tests of the gate)."""
    try:
        return _main(args, answerer)
    except EvalError as exc:
        print(f"verity eval: {exc}", file=sys.stderr)
        return 2


def _read_secret(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EvalError(f"cannot read the {what} file {path}: {exc.strerror}") from None


def judge_config(args: argparse.Namespace) -> JudgeConfig | None:
    if not args.judge_url and not args.judge_model:
        return None
    if not (args.judge_url and args.judge_model):
        raise EvalError("an LLM judge needs both --judge-url and --judge-model")
    from evals.harness.scoring.judge import JudgeConfig

    try:
        return JudgeConfig(
            base_url=args.judge_url,
            model=args.judge_model,
            api_key=_read_secret(args.judge_key_file, "judge key") or "",
            mode=args.judge_mode,
            timeout_s=args.judge_timeout,
            max_tokens=args.judge_max_tokens,
        )
    except ValueError as exc:
        raise EvalError(str(exc)) from None


def _check(args: argparse.Namespace) -> None:
    if not 1 <= args.top_k <= 50:
        raise EvalError("--top-k must be between 1 and 50")
    if args.limit is not None and args.limit < 1:
        raise EvalError("--limit must be at least 1")
    if args.limit is not None and (args.gate or args.write_baseline):
        raise EvalError("--limit measures part of the set: it cannot be gated or stored as a baseline")
    if args.against and args.kb:
        raise EvalError("--kb builds a store in this process; it cannot be combined with --against")
    if args.against and not args.against.startswith(("http://", "https://")):
        raise EvalError(f"--against must be an http:// or https:// URL, got {args.against!r}")


def _main(args: argparse.Namespace, answerer: AnswererFactory | None) -> int:
    _check(args)
    judge = judge_config(args)  # before the slow part: a bad judge flag fails at once
    from evals.golden import DatasetError, load_golden

    try:
        questions = load_golden(args.dataset)
    except FileNotFoundError:
        raise EvalError(f"no dataset at {args.dataset}") from None
    except (DatasetError, UnicodeDecodeError) as exc:
        raise EvalError(str(exc)) from None
    if not questions:
        raise EvalError(f"{args.dataset} holds no questions")
    questions = questions[: args.limit] if args.limit else questions

    from evals.harness.execute import run_http, run_in_process

    if args.against:
        api_key = _read_secret(args.api_key_file, "API key")
        report = run_http(args.dataset, questions, args.against, args.top_k, api_key, judge)
    else:
        report = run_in_process(args.dataset, questions, args.top_k, judge, args.kb, answerer)
    baseline = args.baseline or default_baseline(args.dataset)
    gate = _gate(report, baseline) if args.gate else None
    _write(report, gate, args.out)
    print(summary(report))
    if args.write_baseline:
        _write_baseline(report, baseline)
    if gate is None:
        return 0
    for line in [*(r.describe() for r in gate.regressions), *gate.notes]:
        print(line)
    for line in gate.improvements:
        print(f"improved beyond tolerance: {line} (consider --write-baseline)")
    print("gate: PASSED" if gate.passed else f"gate: FAILED ({len(gate.regressions)} metrics regressed)")
    return 0 if gate.passed else 1


def _gate(report: EvalReport, path: Path) -> GateResult:
    from pydantic import ValidationError

    from evals.harness.reporting.gate import Baseline, compare

    try:
        baseline = Baseline.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(f"no baseline at {path}; write one with --write-baseline") from None
    except ValidationError as exc:
        raise EvalError(f"{path} is not a valid baseline: {exc}") from None
    return compare(baseline, report)


def _write(report: EvalReport, gate: GateResult | None, out: Path) -> None:
    from evals.harness.reporting.html import render

    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
        (out / "report.html").write_text(render(report, gate), encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"cannot write the report to {out}: {exc.strerror}") from None
    print(f"report: {out / 'report.json'} and {out / 'report.html'}", file=sys.stderr)


def _write_baseline(report: EvalReport, path: Path) -> None:
    from pydantic import ValidationError

    from evals.harness.reporting.gate import Baseline, baseline_from

    tolerances = None
    if path.exists():
        try:
            tolerances = Baseline.model_validate_json(path.read_text(encoding="utf-8")).tolerances
        except ValidationError:
            tolerances = None  # an unreadable old baseline is replaced with the default tolerances
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline_from(report, tolerances).model_dump_json(indent=2) + "\n", encoding="utf-8")
    print(f"baseline written: {path}", file=sys.stderr)


def summary(report: EvalReport) -> str:
    lines = [f"{report.run.questions} questions, {report.run.target}, {report.run.seconds:.1f} s"]
    lines += [f"WARNING: {w}" for w in report.run.warnings]
    for name in SUMMARY:
        if name in report.metrics:
            value = report.metrics[name]
            shown = "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
            if name == "faithfulness.ragas" and report.run.judge is None:
                shown = "not run (no LLM judge: --judge-url, --judge-model)"
            lines.append(f"  {name:<30} {shown}")
    return "\n".join(lines)
