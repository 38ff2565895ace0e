"""`python -m evals.benchmarks.retrieval`: the pairs table, the should-refuse curves, the mixed-language KB."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from evals.benchmarks.retrieval.tables import CurvePoint, mixed_language, pairs_table, refusal_curve
from evals.benchmarks.retrieval.xquad import Bench
from rag.retrieval.decision import DecisionModel


def print_curve(curve: list[CurvePoint]) -> None:
    default = DecisionModel.bundled().answer_confidence
    for point in curve:
        mark = "  <- default" if abs(point["threshold"] - default) < 1e-9 else ""
        print(
            f"threshold {point['threshold']:.2f}  answered correctly {point['answered_correctly']:.3f}  wrong card "
            f"{point['answered_wrong_card']:.3f}  should-refuse answered {point['should_refuse_answered']:.3f}  "
            f"refusal P {_shown(point['refusal_precision'])} R {_shown(point['refusal_recall'])}" + mark,
            flush=True,
        )


def _shown(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.benchmarks.retrieval")
    parser.add_argument("--languages", default="en,de,es,ru")
    parser.add_argument("--paragraphs", type=int, default=240)
    parser.add_argument("--parts", default="pairs,refuse,mixed", help="any of pairs, refuse, mixed")
    parser.add_argument("--cards", default="", help="card languages of the pairs (default: every language)")
    parser.add_argument("--no-granularity", action="store_true", help="skip the chunks-only/sentences-only runs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    parts = {part.strip() for part in args.parts.split(",")}
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(languages, args.paragraphs, Path(folder))
        if "pairs" in parts:
            print("pair  method r@1/r@5/MRR@10", flush=True)
            report["pairs"] = pairs_table(
                bench, granularity=not args.no_granularity, card_languages=[c for c in args.cards.split(",") if c]
            )
        if "refuse" in parts:
            for held_out in ("paragraph", "article"):
                print(
                    f"\nshould-refuse, KB without the odd {held_out}s ({languages[0]} cards; questions in every "
                    "language):",
                    flush=True,
                )
                curve = refusal_curve(bench, languages[0], held_out)
                print_curve(curve)
                report[f"refusal_curve_{held_out}"] = curve
        if "mixed" in parts:
            print("\nmixed-language KB (each paragraph once, in one language):", flush=True)
            mixed = mixed_language(bench)
            for key, metrics in mixed.items():
                print(f"{key:<14} r@1 {metrics['r@1']:.3f}  r@5 {metrics['r@5']:.3f}  MRR {metrics['mrr']:.3f}")
            report["mixed"] = mixed
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
