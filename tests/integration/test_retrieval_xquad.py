"""A small run of the XQuAD retrieval benchmark (evals/benchmarks/retrieval/) with thresholds.

Two languages, the first 48 paragraphs and their questions: Verity's pipeline must match or beat the
bare dense peer on every pair, lexical retrieval must not lower recall on any pair, the mixed-language
KB must not favour same-language distractors, and the should-refuse curve must hold at the default.
The full benchmark (four languages, 240 paragraphs) is `python -m evals.benchmarks.retrieval`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.benchmarks.retrieval.tables import mixed_language, pairs_table, refusal_curve
from evals.benchmarks.retrieval.xquad import BUNDLED_XQUAD, Bench
from rag.retrieval.decision import DecisionModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    return Bench(["en", "de"], 48, Path(tmp_path_factory.mktemp("xquad")), BUNDLED_XQUAD)


@pytest.fixture(scope="module")
def rows(bench: Bench) -> list[dict[str, Any]]:
    return pairs_table(bench)


def test_verity_matches_or_beats_bare_dense_retrieval_on_every_pair(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        pair = f"{row['cards']}->{row['questions']}"
        assert row["verity"]["r@1"] >= row["dense"]["r@1"] - 0.01, pair
        assert row["verity"]["r@5"] >= row["dense"]["r@5"] - 0.01, pair
        assert row["verity"]["mrr"] >= row["dense"]["mrr"] - 0.01, pair


def test_lexical_retrieval_never_lowers_recall(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        pair = f"{row['cards']}->{row['questions']}"
        assert row["verity"]["r@1"] >= row["verity-nolex"]["r@1"] - 0.01, pair
        assert row["verity"]["r@5"] >= row["verity-nolex"]["r@5"] - 0.01, pair


def test_cross_language_recall_is_high(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if row["cards"] != row["questions"]:
            assert row["verity"]["r@5"] >= 0.85, row


def test_mixed_language_kb_does_not_favour_the_questions_language(bench: Bench) -> None:
    mixed = mixed_language(bench)
    assert mixed["verity/cross"]["r@1"] >= mixed["dense/cross"]["r@1"] + 0.05
    assert mixed["verity/cross"]["r@1"] >= 0.6


def test_should_refuse_trade_off_curve(bench: Bench) -> None:
    """XQuAD's should-refuse questions are hard near misses: their paragraph's neighbours from the same
    article stay in the KB. The curve must trade answers for refusals monotonically, and the default
    (calibrated on the support golden set) must still answer most answerable questions correctly."""
    curve = refusal_curve(bench, "en")
    for point in curve:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in point.items()})
    refused_wrongly = [p["should_refuse_answered"] for p in curve]
    assert refused_wrongly == sorted(refused_wrongly, reverse=True)
    assert curve[-1]["should_refuse_answered"] < curve[0]["should_refuse_answered"]
    default = next(p for p in curve if abs(p["threshold"] - DecisionModel.bundled().answer_confidence) < 1e-9)
    assert default["answered_correctly"] >= 0.6
    assert default["should_refuse_answered"] <= 0.7


def test_questions_on_topics_the_kb_lacks_are_refused(bench: Bench) -> None:
    """Whole articles left out: at the fitted decision's bar their questions are refused, while most
    answerable questions are still answered with the right card and none with a wrong one.

    Measured at the bar 0.56: answered correctly 0.672, wrong card 0, absent-article questions answered 0.
    The one-threshold gate this test was written for answered 0.88 and let up to 0.08 through; the fitted
    decision answers fewer (issue 15 asks for 0.85 answered: not met yet). The kept cards are XQuAD's
    even articles 0-8, which are in the split the decision was fitted on (evals/calibrate/): these are
    figures on fitted data; evals/calibrate/ reports the held-out split."""
    curve = refusal_curve(bench, "en", held_out="article")
    default = next(p for p in curve if abs(p["threshold"] - DecisionModel.bundled().answer_confidence) < 1e-9)
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in default.items()})
    assert default["answered_correctly"] >= 0.65
    assert default["answered_wrong_card"] <= 0.01
    assert default["should_refuse_answered"] <= 0.02
