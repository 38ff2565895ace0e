"""The golden set's split: the part CI gates on is never the part the decision model is fitted on."""

import json
from collections import Counter

from evals.decision_data import (
    GOLDEN_HELD_OUT,
    OFFTOPIC,
    TATOEBA_FIT_LANGUAGES,
    golden_split,
    held_out_lines,
    offtopic_set,
)
from evals.golden import DEFAULT_GOLDEN, load_golden


def test_fit_and_held_out_parts_are_disjoint_and_cover_the_set() -> None:
    questions = load_golden()
    fit, held_out = golden_split(questions)
    assert {q.id for q in fit}.isdisjoint(q.id for q in held_out)
    assert len(fit) + len(held_out) == len(questions)
    # two thirds of every outcome are held out
    for outcome, n in Counter(q.expected_outcome for q in questions).items():
        held = sum(1 for q in held_out if q.expected_outcome == outcome)
        assert n - held == (n + 2) // 3


def test_the_held_out_file_is_the_held_out_part() -> None:
    """`python -m evals.decision_data` writes it; a changed golden set must be split again."""
    assert GOLDEN_HELD_OUT.read_text(encoding="utf-8").splitlines() == held_out_lines(DEFAULT_GOLDEN)


def test_the_bundled_offtopic_set_is_broad_and_never_fitted_on() -> None:
    """At least 200 questions in at least 8 languages; its Tatoeba questions are of languages the decision
    model is never fitted on, and every line names its source's licence."""
    questions = offtopic_set()
    assert len(questions) >= 200 and len({q.language for q in questions}) >= 8
    assert len({q.text for q in questions}) == len(questions)
    tatoeba = {q.language for q in questions if q.source == "tatoeba"}
    assert tatoeba and tatoeba.isdisjoint(TATOEBA_FIT_LANGUAGES)
    lines = [json.loads(line) for line in OFFTOPIC.read_text(encoding="utf-8").splitlines()]
    assert all(line["license"] for line in lines)
