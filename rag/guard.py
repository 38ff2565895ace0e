"""The citation guard: every sentence of a generated answer is checked against the evidence it cites.

A model's answer is the least trusted text in Verity. The guard needs no second model; for each sentence:

1. citations: it must carry at least one `[n]`, and every `n` must be evidence that was in the prompt;
2. hard facts: every number and identifier it states ("30", "1.5", "E-4012", "OH-200") must appear in
   the evidence it cites (numbers compared by value, so "1,5" and "1.5" match);
3. meaning: its best match among the cited cards' sentences (cosine of the bundled multilingual model,
   so an answer in Turkish is checked against an English card) must reach `support_threshold`;
4. polarity: a negation cue on one side only (the claim against its best-matching evidence sentence)
   flags a flipped statement ("can" / "cannot");
5. the right card: a sentence that another evidence item supports clearly better than the one it cites
   (by `citation_margin`) has a wrong citation.

Which checks run, and their thresholds, were measured on a defect set built from the golden set
(`python -m evals.guard`). The guard decides per sentence; what to do with a failed sentence (drop it
and list it, or refuse the answer) is the caller's policy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from rag.lexical import identifiers
from rag.ports import Embedder
from rag.sentences import split_sentences

_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")

# Negation cues, whole words, in the languages of the sample knowledge base and XQuAD. A cue present on
# one side only flips a statement. Turkish also negates with verb suffixes (-me/-ma), which word cues miss.
NEGATION_CUES = frozenset(
    {
        # en
        "not", "no", "never", "cannot", "can't", "don't", "doesn't", "isn't", "aren't", "won't", "without",
        "none", "nor", "neither",
        # pt / es
        "não", "nao", "nunca", "nem", "nenhum", "nenhuma", "sem", "jamais", "ningún", "ninguna", "sin",
        # vi
        "không", "chưa", "chẳng", "đừng",
        # uk / ru
        "не", "ні", "ніколи", "жодного", "жодних", "без", "нет", "никогда",
        # tr
        "değil", "yok", "hiç", "hiçbir", "asla", "olmadan",
        # de
        "nicht", "kein", "keine", "keinen", "nie", "niemals", "ohne",
    }
)  # fmt: skip
ANSWER_WORDS = frozenset(
    {"yes", "no", "sim", "não", "nao", "có", "không", "так", "ні", "evet", "hayır", "ja", "nein", "sí", "да", "нет"}
)
_ANSWER_WORD = re.compile(r"(?i)\s*(?:" + "|".join(sorted(ANSWER_WORDS, key=len, reverse=True)) + r")\s*[.!,;:]?\s*")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


NEGATION_WINDOW = 0.03  # evidence sentences this close to the best match may carry the claim's negation


def script(text: str) -> str:
    """Pure: the Unicode script of a text's letters, roughly (the first word of each letter's name)."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "UNKNOWN").split()[0]
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else ""


def same_script(a: str, b: str) -> bool:
    """Cross-language paraphrases say "at most" for "no more than": polarity of cue words is only compared
    within one script (Latin, Cyrillic, ...), a rough stand-in for one language."""
    return script(a) == script(b)


class GuardProblem(StrEnum):
    NO_CITATION = "no_citation"
    UNKNOWN_CITATION = "unknown_citation"
    UNSUPPORTED_FACT = "unsupported_fact"
    UNSUPPORTED = "unsupported"
    NEGATION = "negation_mismatch"
    WRONG_CITATION = "wrong_citation"


@dataclass(frozen=True, slots=True)
class GuardEvidence:
    """One numbered piece of evidence that was in the prompt: a verified card's text."""

    marker: int
    card_id: str
    text: str


@dataclass(frozen=True, slots=True)
class SentenceVerdict:
    sentence: str  # as written, markers included
    claim: str  # markers removed
    markers: tuple[int, ...]
    problem: GuardProblem | None
    detail: str = ""
    support: float = 0.0  # best cosine against the cited evidence

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    support_threshold: float = 0.82
    citation_margin: float = 0.04
    check_negation: bool = True


def split_claims(answer: str) -> list[tuple[str, str, tuple[int, ...]]]:
    """Pure: answer -> (sentence, claim without markers, markers) per sentence. A marker that opens the
    next sentence ("... done. [2] Next ...") belongs to the sentence before it. Only these sentences are
    checked, so a caller shows only sentences that passed, never the raw answer."""
    raw = split_sentences(answer, min_chars=1)  # a short claim ("Yes.") is checked like any other
    merged: list[str] = []
    for part in raw:
        leading = re.match(r"^(?:\s*\[\d{1,3}\])+", part)
        if leading and merged:
            merged[-1] = f"{merged[-1]} {leading.group(0).strip()}"
            part = part[leading.end() :].strip()
        if part:
            merged.append(part)
    joined: list[str] = []
    for sentence in merged:  # "No." / "Sim." alone states nothing to check: it goes with the next sentence
        if joined and _ANSWER_WORD.fullmatch(_MARKER.sub("", joined[-1]).strip()):
            joined[-1] = f"{joined[-1]} {sentence}"
        else:
            joined.append(sentence)
    out = []
    for sentence in joined:
        markers = tuple(int(m) for m in _MARKER.findall(sentence))
        claim = _MARKER.sub("", sentence).strip()
        if claim:
            out.append((sentence, claim, markers))
    return out


def numbers(text: str) -> set[str]:
    """Pure: the numbers a text states, by value ("1,5" == "1.5"; "1,000" == "1000")."""
    found = set()
    for raw in _NUMBER.findall(unicodedata.normalize("NFKC", text)):
        if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):  # thousands separators
            found.add(re.sub(r"[.,]", "", raw))
        else:
            value = raw.replace(",", ".")
            found.add(value.rstrip("0").rstrip(".") if "." in value else value.lstrip("0") or "0")
    return found


def hard_facts(text: str) -> set[str]:
    """Pure: numbers and identifiers, the facts a paraphrase or a translation must keep exactly."""
    return numbers(text) | set(identifiers(text))


def negations(text: str) -> int:
    """Pure: how many negation cues a text holds."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    words = _WORD.findall(folded)
    if words and words[0] in ANSWER_WORDS:  # a leading "No." answers the question; it negates no claim
        words = words[1:]
    return sum(1 for w in words if w in NEGATION_CUES or w.endswith("n't"))


@dataclass(frozen=True, slots=True)
class PreparedEvidence:
    """The prompt's evidence, split into sentences and embedded once, for checking many claims."""

    by_marker: dict[int, GuardEvidence]
    flat: list[tuple[int, str]]
    vectors: np.ndarray
    facts: dict[int, set[str]]


class Guard:
    def __init__(self, embedder: Embedder, policy: GuardPolicy | None = None) -> None:
        self._embedder = embedder
        self.policy = policy or GuardPolicy()

    def prepare(self, evidence: Sequence[GuardEvidence]) -> PreparedEvidence:
        sentences = {e.marker: split_sentences(e.text) or [e.text] for e in evidence}
        flat = [(marker, s) for marker, items in sentences.items() for s in items]
        vectors = self._embedder.embed_passages([s for _, s in flat]) if flat else np.zeros((0, 1), np.float32)
        facts = {e.marker: hard_facts(e.text) for e in evidence}
        return PreparedEvidence({e.marker: e for e in evidence}, flat, vectors, facts)

    def check(self, answer: str, evidence: Sequence[GuardEvidence]) -> list[SentenceVerdict]:
        prepared = self.prepare(evidence)
        return [
            self.check_claim(sentence, claim, markers, prepared) for sentence, claim, markers in split_claims(answer)
        ]

    def check_claim(
        self, sentence: str, claim: str, markers: tuple[int, ...], prepared: PreparedEvidence
    ) -> SentenceVerdict:
        """One sentence of an answer (as `split_claims` gives it) against prepared evidence."""
        p = prepared
        return self._verdict(sentence, claim, markers, p.by_marker, p.flat, p.vectors, p.facts)

    def _verdict(
        self,
        sentence: str,
        claim: str,
        markers: tuple[int, ...],
        by_marker: dict[int, GuardEvidence],
        flat: list[tuple[int, str]],
        vectors: np.ndarray,
        facts: dict[int, set[str]],
    ) -> SentenceVerdict:
        def verdict(problem: GuardProblem | None, detail: str = "", support: float = 0.0) -> SentenceVerdict:
            return SentenceVerdict(sentence, claim, markers, problem, detail, support)

        if not markers:
            return verdict(GuardProblem.NO_CITATION, "the sentence cites no evidence")
        unknown = sorted({m for m in markers if m not in by_marker})
        if unknown:
            return verdict(GuardProblem.UNKNOWN_CITATION, f"[{unknown[0]}] was not in the evidence")
        cited_facts = set().union(*(facts[m] for m in markers))
        missing = sorted(hard_facts(claim) - cited_facts)
        if missing:
            return verdict(GuardProblem.UNSUPPORTED_FACT, f"{missing[0]!r} is not in the cited evidence")
        if not flat:
            return verdict(GuardProblem.UNSUPPORTED, "no evidence text")
        scores = vectors @ self._embedder.embed_queries([claim])[0]  # the model's sentence, not a person's question
        cited = [i for i, (marker, _) in enumerate(flat) if marker in markers]
        best_cited = max(cited, key=lambda i: float(scores[i]))
        support = float(scores[best_cited])
        others = [i for i, (marker, _) in enumerate(flat) if marker not in markers]
        best_other = max(others, key=lambda i: float(scores[i])) if others else None
        other = float(scores[best_other]) if best_other is not None else float("-inf")
        if best_other is not None and (
            other > support + self.policy.citation_margin or (support < self.policy.support_threshold <= other)
        ):
            return verdict(
                GuardProblem.WRONG_CITATION, f"[{flat[best_other][0]}] supports this, not the cited card", support
            )
        if support < self.policy.support_threshold:
            return verdict(GuardProblem.UNSUPPORTED, "no cited sentence says this", support)
        if self.policy.check_negation:
            close = [flat[i][1] for i in cited if float(scores[i]) >= support - NEGATION_WINDOW]
            if negations(claim) and not any(negations(s) for s in close):
                return verdict(GuardProblem.NEGATION, "the claim is negated, the evidence is not", support)
            best = flat[best_cited][1]
            if not negations(claim) and negations(best) and same_script(claim, best):
                return verdict(GuardProblem.NEGATION, "the evidence is negated, the claim is not", support)
        return verdict(None, "", support)
