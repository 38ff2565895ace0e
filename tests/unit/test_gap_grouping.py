"""Grouping refused questions: same-language discount and local scaling, on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest

from rag.services.gaps.grouping import GroupingPolicy, group_questions, question_similarity


def unit(rows: list[list[float]]) -> np.ndarray:
    x = np.array(rows, dtype=np.float32)
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def test_same_language_pairs_are_discounted_and_cross_language_ones_are_not() -> None:
    vectors = unit([[1, 0.2], [1, 0.2], [1, 0.2]])
    raw = question_similarity(vectors, ["en", "en", "tr"], GroupingPolicy(neighbours=0))
    assert raw[0, 1] == pytest.approx(1 / 1.3, abs=1e-6)
    assert raw[0, 2] == pytest.approx(1.0, abs=1e-6)
    unknown = question_similarity(vectors, [None, None, "tr"], GroupingPolicy(neighbours=0))
    assert unknown[0, 1] == pytest.approx(1.0, abs=1e-6)  # no language known: nothing to discount


def test_a_loose_topic_and_a_tight_topic_are_each_one_gap() -> None:
    rng = np.random.default_rng(3)
    tight = np.array([1.0, 0, 0, 0]) + rng.normal(scale=0.05, size=(6, 4))
    loose = np.array([0, 0, 1.0, 0]) + rng.normal(scale=0.35, size=(6, 4))
    vectors = unit([*tight.tolist(), *loose.tolist()])
    languages = ["en", "tr", "vi", "pt", "uk", "de"] * 2
    labels = group_questions(vectors, languages, GroupingPolicy(neighbours=4, min_similarity=-0.3))
    assert labels == [0] * 6 + [1] * 6


def test_one_question_is_one_gap_and_languages_must_match_the_vectors() -> None:
    assert group_questions(unit([[1, 0]]), ["en"]) == [0]
    with pytest.raises(ValueError, match="one language per vector"):
        group_questions(unit([[1, 0]]), ["en", "tr"])
