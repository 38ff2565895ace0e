"""`python -m evals.calibrate`: collect, fit leaving one language out, fit the shipped model, report, write it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.calibrate.collect import ALL_KBS, ROWS, Row, collect_each, load_rows
from evals.calibrate.fit import fit_rows, measure_floor, model_from, scale_of_bundled, with_floor
from evals.calibrate.scores import scores
from evals.decision_data import (
    TATOEBA_FIT_LANGUAGES,
    TATOEBA_TEST_LANGUAGES,
    XQUAD_LANGUAGES,
    golden_split,
)
from evals.golden import load_golden
from rag.config import Settings
from rag.retrieval.decision import SIGNAL_NAMES, DecisionModel, DecisionPolicy

DECISION_FILE = Path(__file__).resolve().parents[2] / "rag" / "data" / "decision.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals.calibrate")
    parser.add_argument("--out", type=Path, default=DECISION_FILE)
    parser.add_argument("--no-write", action="store_true", help="report only; keep the shipped model")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--rows", type=Path, default=ROWS, help="folder of the collected signals (one file per KB)")
    parser.add_argument("--kbs", default=",".join(ALL_KBS), help="knowledge bases to collect (two runs can split them)")
    parser.add_argument("--collect-only", action="store_true", help="collect into --rows and stop")
    parser.add_argument("--reuse", default=None, help="fit on these collected row files (comma-separated)")
    parser.add_argument("--signals", default=",".join(SIGNAL_NAMES), help="signals to fit on (others: weight 0)")
    parser.add_argument("--golden-weight", type=float, default=1.0, help="weight of the golden fit third")
    return parser


def leave_one_language_out(
    rows: Sequence[Row], fit_ids: set[str], floor: float, signals: Sequence[str], golden_weight: float
) -> dict[str, Any]:
    """Per XQuAD language L: fit without L, test on the split-1 questions in L (English and other cards)."""
    report: dict[str, Any] = {}
    print("\nleave one language out (fit without L, test on questions in L; split-1 KBs):")
    for language in XQUAD_LANGUAGES:
        model = model_from(fit_rows(rows, fit_ids, language), floor, f"without {language}", signals, golden_weight)
        policy = DecisionPolicy(model.answer_confidence, 0.1)
        test = [r for r in rows if r.question.source == "xquad" and r.split == 1 and r.with_language]
        test = [r for r in test if r.question.language == language]
        english = scores([r for r in test if r.card_language == "en"], model, policy)
        other = scores([r for r in test if r.card_language != "en"], model, policy)
        report[language] = {"bar": model.answer_confidence, "en_cards": english, "other_cards": other}
        for name, s in (("English cards", english), ("other cards", other)):
            print(f"  {language} {name:13s} bar {model.answer_confidence:.2f}  " + _line(s))
    return report


def held_out_figures(rows: Sequence[Row], fit_ids: set[str], model: DecisionModel) -> dict[str, Any]:
    """The shipped model on what it never saw: XQuAD split 1, the golden held-out part (and, for comparison,
    its fit third), Tatoeba questions of languages never fitted on."""
    policy = DecisionPolicy(model.answer_confidence, 0.1)
    report: dict[str, Any] = {}
    for with_language in (True, False):
        test = [r for r in rows if r.question.source == "xquad" and r.split == 1 and r.with_language is with_language]
        s = scores(test, model, policy)
        report[f"xquad_split1_{'with' if with_language else 'without'}_language"] = s
        print(f"  XQuAD split 1, {'with' if with_language else 'without'} language: " + _line(s))
    for kb in ("sample", "sample-nolang"):
        held = [r for r in rows if r.kb == kb and r.question.source == "golden" and r.question.id not in fit_ids]
        fit = [r for r in rows if r.kb == kb and r.question.source == "golden" and r.question.id in fit_ids]
        for name, part in (("held-out", held), ("fit third", fit)):
            s = scores(part, model, policy)
            report[f"golden_{kb}_{name}"] = s
            print(f"  golden {name} ({kb}): " + _line(s))
    for where in ("sample", "sample-nolang", "xquad"):
        off = [
            r
            for r in rows
            if r.question.source == "tatoeba"
            and r.question.language in TATOEBA_TEST_LANGUAGES
            and (r.kb.startswith(where) if where == "xquad" else r.kb == where)
        ]
        s = scores(off, model, policy)
        report[f"offtopic_{where}"] = s
        print(
            f"  off-topic Tatoeba ({len(TATOEBA_TEST_LANGUAGES)} languages never fitted on) on {where}: "
            f"refused {s.get('offtopic')} of {s['n'].get('offtopic')}"
        )
    return report


def main() -> None:
    args = _parser().parse_args()
    if args.reuse:
        rows = [row for part in args.reuse.split(",") for row in load_rows(Path(part))]
    else:
        kbs = [k for k in args.kbs.split(",") if k]
        rows = collect_each(kbs, args.rows)
        if args.collect_only:
            return
    fit_ids = {q.id for q in golden_split(load_golden())[0]}
    signals = [n.strip() for n in args.signals.split(",") if n.strip()]
    scale = scale_of_bundled()
    floor = measure_floor(rows)
    rows = with_floor(rows, floor, scale)
    floor = scale.ranking_level(floor, Settings().affinity_weight)  # stored in anchor steps
    report: dict[str, Any] = {"lead_floor": floor}
    report["leave_one_language_out"] = leave_one_language_out(rows, fit_ids, floor, signals, args.golden_weight)
    note = "XQuAD en/de/es/ru split 0, golden fit third, Tatoeba " + ",".join(TATOEBA_FIT_LANGUAGES)
    model = model_from(fit_rows(rows, fit_ids), floor, note, signals, args.golden_weight)
    print(
        f"\nshipped model: bar {model.answer_confidence:.2f}, weights "
        + ", ".join(f"{n} {w:+.3f}" for n, w in zip(SIGNAL_NAMES, model.weights, strict=True))
        + f", intercept {model.intercept:+.3f}"
    )
    report["model"] = {
        "weights": dict(zip(SIGNAL_NAMES, model.weights, strict=True)),
        "intercept": model.intercept,
        "bar": model.answer_confidence,
    }
    report |= held_out_figures(rows, fit_ids, model)
    if not args.no_write:
        model.save(args.out)
        print(f"\nwrote {args.out}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _line(s: dict[str, Any]) -> str:
    keys = ("answerable", "near", "absent", "answer", "no_evidence", "only_unverified", "only_expired", "offtopic")
    parts = [f"{k} {s[k]:.3f}" for k in keys if k in s]
    parts.append(f"outcome acc {s['outcome_accuracy']:.3f}")
    for k in ("refusal_precision", "refusal_recall", "cross_language_answered"):
        if s.get(k) is not None:
            parts.append(f"{k} {s[k]:.3f}")
    return "  ".join(parts)


if __name__ == "__main__":
    main()
