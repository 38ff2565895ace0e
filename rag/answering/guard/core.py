"""The citation guard: what each sentence of a generated answer asserts must be stated in the evidence it cites.

A model's answer is the least trusted text in Verity. Resemblance is not support: a sentence about the
right topic that adds a clause, swaps a name or flips a statement must not pass because it looks like its
card. For each sentence, with no second model:

1. citations: it must carry at least one `[n]`, and every `n` must be evidence that was in the prompt;
2. hard facts: every number and identifier it states ("30", "1.5", "E-4012") must appear in the evidence
   it cites (numbers compared by value, so "1,5" and "1.5" match), in any script;
3. meaning: its best match among the cited evidence's windows (a sentence, two adjacent ones, a clause)
   must reach `support_threshold` (cosine of the bundled multilingual model, both sides embedded alike,
   so a Turkish sentence is checked against an English card), and `same_language_support` when the
   sentence and its evidence are in one language (a restatement there repeats the card's words);
4. the right card: a sentence another evidence item supports clearly better (by `citation_margin`) has
   a wrong citation;
5. names: when the sentence and its evidence are in one language, a capitalised word the evidence does
   not name (rag/answering/guard/names.py) fails it. Across languages names are not checked beyond numbers and
   identifiers: exonyms ("Alemania" for "Germany") and German nouns make a missing capitalised word no
   sign of a swap, and neither removing it nor embedding it alone told them apart (measured: README).
6. clauses: a sentence with several clauses passes only when each one reaches `clause_threshold` on its
   own ("Refunds take 30 days, and every refund includes a free month" fails on its second clause);
7. words: when the sentence and its evidence are in the same language, at least `word_coverage` of its
   words (function words aside) must be found in the evidence;
8. polarity: the negation cues of the sentence's language (learned from Tatoeba for 112 languages,
   rag/answering/guard/polarity.py) against those of its evidence. Where a language's polarity cannot be read, the
   verdict says so in `unchecked` instead of passing it silently.

Thresholds were chosen on the `tune` half of a planted XQuAD set and are reported on the other half
(`python -m evals.benchmarks.support_set`); the golden defect set (`python -m evals.benchmarks.guard`) is a
second report. The guard decides per sentence; what to do with a failed sentence (drop it and list it, or
refuse the answer) is the caller's policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.guard.claims import LEADING_ANSWER, clauses, hard_facts, split_claims, windows
from rag.answering.guard.names import found_in, name_words, words
from rag.answering.guard.polarity import Polarity
from rag.config import default_of
from rag.domain.types import DroppedSentence, GuardProblem
from rag.ports import Embedder
from rag.retrieval.languages import shared_identifier


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
    # what supports a passed sentence: (marker, the exact evidence words, verbatim from that evidence item)
    evidence: tuple[tuple[int, str], ...] = ()
    unchecked: tuple[str, ...] = ()  # checks that could not run on this sentence, and why

    @property
    def ok(self) -> bool:
        return self.problem is None

    def dropped(self) -> DroppedSentence:
        """This verdict as a sentence the guard removed; only for a verdict that is not ok."""
        if self.problem is None:
            raise ValueError("the guard passed this sentence: it is not dropped")
        return DroppedSentence(self.sentence, self.problem, self.detail)


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """Thresholds chosen on the `tune` half of the planted XQuAD set (python -m evals.benchmarks.support_set)."""

    # the sentence against its best cited window (sentence, pair, clause): VERITY_GUARD_SUPPORT
    support_threshold: float = default_of("guard_support")
    citation_margin: float = 0.04  # another evidence item this much better: wrong citation
    # one language: a faithful restatement repeats the card's words (golden: 5th percentile 0.93), an invented
    # sentence on the card's topic does not ("Every refund also includes a free month of service": 0.88)
    same_language_support: float = 0.90
    clause_threshold: float = 0.82  # each clause of a sentence with several, against the cited evidence
    check_names: bool = True  # same language: a name the cited evidence does not state fails the sentence
    word_coverage: float = 0.75  # same language: share of the sentence's words the evidence must hold


@dataclass(frozen=True, slots=True)
class PreparedEvidence:
    """The prompt's evidence, split into sentences and pairs of adjacent sentences, embedded once."""

    by_marker: dict[int, GuardEvidence]
    flat: list[tuple[int, str]]  # (marker, a window of its text: `windows`), as the evidence writes it
    vectors: np.ndarray
    facts: dict[int, set[str]]
    words: dict[int, list[str]]  # each item's words, for names and same-language coverage
    languages: dict[int, str | None]


@dataclass(frozen=True, slots=True)
class Signals:
    """What the guard measured of one sentence against its cited evidence; `GuardPolicy` decides on it."""

    problem: GuardProblem | None  # a problem found without thresholds (citations, numbers, identifiers)
    detail: str
    support: float  # best cited window
    best: int  # index in `flat` of the best cited window
    other: float  # best window of evidence the sentence does not cite
    best_other: int | None
    clause: float  # weakest clause's best cited window (1.0 when the sentence has one clause)
    clause_text: str
    strangers: tuple[str, ...]  # capitalised words (names) the cited evidence does not name
    same_language: bool  # the sentence and all its cited evidence are in one language
    coverage: float | None  # same language as the cited evidence: share of words found there; else None
    polarity: tuple[int, int] | None  # negation cues of the sentence and of its evidence; None: unreadable
    polarity_note: str


MIN_COVERAGE_LETTERS = 4


class Guard:
    """Checks what each sentence of a generated answer asserts against the evidence it cites.

    `identify`: the language identifier of texts (rag/retrieval/languages.py); it chooses the negation cues and
    tells whether a sentence and its evidence share a language. None: a default identifier is built once."""

    def __init__(
        self,
        embedder: Embedder,
        policy: GuardPolicy | None = None,
        identify: Callable[[str], str | None] | None = None,
    ) -> None:
        self._embedder = embedder
        self.policy = policy or GuardPolicy()
        self._identify = identify or shared_identifier()
        self._polarity = Polarity(self._identify)

    def prepare(self, evidence: Sequence[GuardEvidence]) -> PreparedEvidence:
        flat = [(e.marker, window) for e in evidence for window in windows(e.text)]
        # the service's embedder remembers them (rag/answering/guard/embed_cache.py)
        vectors = _embed(self._embedder, [s for _, s in flat])
        return PreparedEvidence(
            {e.marker: e for e in evidence},
            flat,
            vectors,
            {e.marker: hard_facts(e.text) for e in evidence},
            {e.marker: words(e.text) for e in evidence},
            {e.marker: self._identify(e.text) for e in evidence},
        )

    def check(self, answer: str, evidence: Sequence[GuardEvidence]) -> list[SentenceVerdict]:
        prepared = self.prepare(evidence)
        return [
            self.check_claim(sentence, claim, markers, prepared) for sentence, claim, markers in split_claims(answer)
        ]

    def check_claim(
        self, sentence: str, claim: str, markers: tuple[int, ...], prepared: PreparedEvidence
    ) -> SentenceVerdict:
        """One sentence of an answer (as `split_claims` gives it) against prepared evidence."""
        return self.decide(sentence, claim, markers, prepared, self.signals(claim, markers, prepared))

    def signals(self, claim: str, markers: tuple[int, ...], p: PreparedEvidence) -> Signals:
        """Everything measured of one sentence (one batch of embeddings: the sentence and its clauses)."""

        def early(problem: GuardProblem, detail: str) -> Signals:
            return Signals(problem, detail, 0.0, -1, float("-inf"), None, 1.0, "", (), False, None, None, "")

        if not markers:
            return early(GuardProblem.NO_CITATION, "the sentence cites no evidence")
        unknown = sorted({m for m in markers if m not in p.by_marker})
        if unknown:
            return early(GuardProblem.UNKNOWN_CITATION, f"[{unknown[0]}] was not in the evidence")
        missing = sorted(hard_facts(claim) - set().union(*(p.facts[m] for m in markers)))
        if missing:
            return early(GuardProblem.UNSUPPORTED_FACT, f"{missing[0]!r} is not in the cited evidence")
        if not p.flat:
            return early(GuardProblem.UNSUPPORTED, "no evidence text")
        cited_words = [w for m in markers for w in p.words[m]]
        strangers = [w for w in dict.fromkeys(name_words(claim)) if not found_in(w, cited_words)]
        parts = clauses(claim)
        texts = [claim, *parts]
        scores = p.vectors @ _embed(self._embedder, texts).T  # windows x texts
        cited = np.array([marker in markers for marker, _ in p.flat])
        cited_scores = np.where(cited[:, None], scores, -np.inf)
        best = int(np.argmax(cited_scores[:, 0]))
        support = float(cited_scores[best, 0])
        other_scores = np.where(cited, -np.inf, scores[:, 0])
        best_other = int(np.argmax(other_scores)) if (~cited).any() else None
        other = float(other_scores[best_other]) if best_other is not None else float("-inf")
        clause_best = cited_scores[:, 1 : 1 + len(parts)].max(axis=0) if parts else np.ones(1)
        weakest = int(np.argmin(clause_best))
        languages = {p.languages[m] for m in markers}
        claim_language = self._identify(claim)
        coverage = None
        same_language = claim_language is not None and languages == {claim_language}
        if same_language:
            common = self._polarity.function_words(claim_language)
            long_words = [w for w in words(claim) if len(w) >= MIN_COVERAGE_LETTERS and w.casefold() not in common]
            if long_words:
                coverage = sum(found_in(w, cited_words) for w in long_words) / len(long_words)
        polarity, note = self._read_polarity(claim, claim_language, p, best)
        return Signals(
            None,
            "",
            support,
            best,
            other,
            best_other,
            float(clause_best[weakest]),
            parts[weakest] if parts else "",
            tuple(strangers),
            same_language,
            coverage,
            polarity,
            note,
        )

    def _read_polarity(
        self, claim: str, claim_language: str | None, p: PreparedEvidence, best: int
    ) -> tuple[tuple[int, int] | None, str]:
        """Negation cues of the sentence and of the evidence window that supports it best. (Not of windows
        nearly as close: with adjacent pairs among them, a negated neighbour sentence excused a flipped claim.)"""
        stated = LEADING_ANSWER.sub("", claim, count=1)  # "No. Refunds take 5 days": the "No" answers the question
        mine = self._polarity.negations(stated, claim_language)
        if mine is None:
            return None, f"the polarity of {claim_language or 'this language'} cannot be read"
        marker, window = p.flat[best]
        theirs = self._polarity.negations(window, p.languages[marker])
        if theirs is None:
            return None, f"the polarity of {p.languages[marker] or 'the evidence'} cannot be read"
        return (mine, theirs), ""

    def decide(
        self, sentence: str, claim: str, markers: tuple[int, ...], p: PreparedEvidence, s: Signals
    ) -> SentenceVerdict:
        policy = self.policy
        unchecked = (s.polarity_note,) if s.polarity_note else ()

        def verdict(problem: GuardProblem, detail: str) -> SentenceVerdict:
            return SentenceVerdict(sentence, claim, markers, problem, detail, s.support, (), unchecked)

        if s.problem is not None:
            return verdict(s.problem, s.detail)
        if s.best_other is not None and (
            s.other > s.support + policy.citation_margin or s.support < policy.support_threshold <= s.other
        ):
            return verdict(
                GuardProblem.WRONG_CITATION, f"[{p.flat[s.best_other][0]}] supports this, not the cited card"
            )
        if s.support < policy.support_threshold:
            return verdict(GuardProblem.UNSUPPORTED, "no cited sentence says this")
        if s.same_language and s.support < policy.same_language_support:
            return verdict(GuardProblem.UNSUPPORTED, "no cited sentence says this (same language, not restated)")
        if s.same_language and s.strangers and policy.check_names:
            return verdict(GuardProblem.UNSUPPORTED_NAME, f"{s.strangers[0]!r} is not in the cited evidence")
        if s.clause < policy.clause_threshold:
            return verdict(GuardProblem.UNSUPPORTED_CLAUSE, f"the cited evidence does not say {s.clause_text!r}")
        if s.coverage is not None and s.coverage < policy.word_coverage:
            return verdict(GuardProblem.UNSUPPORTED_WORDS, "most of its words are not in the cited evidence")
        if s.polarity is not None and (s.polarity[0] > 0) != (s.polarity[1] > 0):
            negated = "the claim is negated, the evidence is not" if s.polarity[0] else "the evidence is negated"
            return verdict(GuardProblem.NEGATION, negated)
        return SentenceVerdict(sentence, claim, markers, None, "", s.support, (p.flat[s.best],), unchecked)


def _embed(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Sentences compared with sentences: both sides embedded the same way (as queries), so a translation
    of a sentence scores as high as the sentence itself would."""
    return embedder.embed_queries(list(texts)) if texts else np.zeros((0, embedder.dim), np.float32)
