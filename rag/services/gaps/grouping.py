"""Which refused questions ask for the same missing knowledge, across languages: the gaps of the gap inbox.

Questions are compared by their language-centred embeddings (rag/retrieval/centering.py), with two
corrections measured on `evals/datasets/gaps-support.jsonl` (36 topics, 5-8 languages; see
`python -m evals.benchmarks.gaps`):
- two questions in one language look closer than they are (shared words and grammar survive centring):
  their similarity is divided by `same_language_discount`;
- topics are not equally tight (a terse product question vs a customer's story): each similarity is
  taken relative to how close the two questions' own `neighbours` nearest questions are ("local
  scaling", Zelnik-Manor & Perona, 2004), so one cut fits loose and tight topics alike.
Then average-linkage clustering, cut at `min_similarity` on that scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.services.gaps.clustering import Linkage, cluster_similarities


@dataclass(frozen=True, slots=True)
class GroupingPolicy:
    same_language_discount: float = 1.3
    neighbours: int = 8
    min_similarity: float = -0.16  # on the locally scaled scale: 0 = as close as the questions' neighbours
    linkage: Linkage = Linkage.AVERAGE


def question_similarity(
    vectors: npt.NDArray[np.floating[Any]], languages: Sequence[str | None], policy: GroupingPolicy
) -> npt.NDArray[np.float64]:
    n = int(vectors.shape[0])
    similarity = np.asarray(vectors @ vectors.T, dtype=np.float64)
    codes = np.array([language or "" for language in languages])
    same = (codes[:, None] == codes[None, :]) & (codes[:, None] != "")
    similarity = np.where(same, similarity / policy.same_language_discount, similarity)
    k = min(policy.neighbours, n - 1)
    if k < 1:
        return similarity
    others = similarity.copy()
    np.fill_diagonal(others, -np.inf)
    closeness = np.sort(others, axis=1)[:, -k:].mean(axis=1)
    return np.asarray(similarity - (closeness[:, None] + closeness[None, :]) / 2, dtype=np.float64)


def group_questions(
    vectors: npt.NDArray[np.floating[Any]], languages: Sequence[str | None], policy: GroupingPolicy | None = None
) -> list[int]:
    """A gap label per question (centred unit vectors, their languages), numbered from 0 in order."""
    policy = policy or GroupingPolicy()
    if len(languages) != int(vectors.shape[0]):
        raise ValueError("one language per vector")
    return cluster_similarities(question_similarity(vectors, languages, policy), policy.min_similarity, policy.linkage)
