"""Agglomerative clustering (nearest-neighbour chain) against the textbook O(n^3) method on small inputs."""

from __future__ import annotations

import numpy as np
import pytest

from rag.services.gaps.clustering import Linkage, cluster


def textbook(vectors: np.ndarray, min_similarity: float, linkage: Linkage) -> list[frozenset[int]]:
    """Merge the closest pair of clusters while it is within the cut; linkage distances from the members."""
    clusters = [frozenset([i]) for i in range(len(vectors))]
    distance = 1.0 - vectors @ vectors.T

    def between(a: frozenset[int], b: frozenset[int]) -> float:
        d = distance[np.ix_(sorted(a), sorted(b))]
        return float(d.max() if linkage is Linkage.COMPLETE else d.mean())

    while len(clusters) > 1:
        pairs = [(between(a, b), i, j) for i, a in enumerate(clusters) for j, b in enumerate(clusters) if i < j]
        d, i, j = min(pairs)
        if d > 1.0 - min_similarity:
            break
        clusters = [c for k, c in enumerate(clusters) if k not in (i, j)] + [clusters[i] | clusters[j]]
    return sorted(clusters, key=min)


def partition(labels: list[int]) -> list[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, set()).add(i)
    return sorted((frozenset(g) for g in groups.values()), key=min)


@pytest.mark.parametrize("linkage", list(Linkage))
@pytest.mark.parametrize("seed", range(6))
def test_the_same_clusters_as_the_textbook_method(linkage: Linkage, seed: int) -> None:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 8))
    points = np.repeat(centres, 6, axis=0) + rng.normal(scale=0.6, size=(24, 8))
    vectors = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    for min_similarity in (0.2, 0.5, 0.8):
        assert partition(cluster(vectors, min_similarity, linkage)) == textbook(vectors, min_similarity, linkage)


def test_labels_count_from_zero_in_order_of_first_appearance() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert cluster(np.stack([b, a, b, a]), 0.9) == [0, 1, 0, 1]


def test_edge_cases() -> None:
    assert cluster(np.zeros((0, 3)), 0.5) == []
    assert cluster(np.array([[1.0, 0.0]]), 0.5) == [0]
    same = np.array([[0.6, 0.8]] * 3)
    assert cluster(same, 0.99, Linkage.COMPLETE) == [0, 0, 0]
    assert cluster(same, 1.5) == [0, 1, 2]  # a cut above any similarity keeps every question apart
