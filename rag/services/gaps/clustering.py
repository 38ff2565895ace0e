"""Agglomerative clustering of unit vectors, cut at a similarity: what groups refused questions into gaps.

The nearest-neighbour chain algorithm (Murtagh, 1983) finds the same hierarchy as the textbook method for
"reducible" linkages (average and complete are) in O(n^2) time and memory, without a library: numpy
only, so the service image needs no scipy. Clusters are the connected parts of the hierarchy's merges at
similarity >= `min_similarity`: since heights only grow up a reducible hierarchy, a union-find over those
merges gives the same flat clusters as cutting the dendrogram.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt


class Linkage(StrEnum):
    AVERAGE = "average"  # mean distance between the members of two clusters
    COMPLETE = "complete"  # the farthest pair: every member is close to every other


def cluster(
    vectors: npt.NDArray[np.floating[Any]], min_similarity: float, linkage: Linkage = Linkage.AVERAGE
) -> list[int]:
    """A cluster label per row of `vectors` (unit length), numbered by first appearance from 0."""
    return cluster_similarities(vectors @ vectors.T, min_similarity, linkage)


def cluster_similarities(
    similarity: npt.NDArray[np.floating[Any]], min_similarity: float, linkage: Linkage = Linkage.AVERAGE
) -> list[int]:
    """The same from a symmetric similarity matrix (any scale: the cut is `min_similarity` on it)."""
    n = int(similarity.shape[0])
    if n == 0:
        return []
    distance = np.asarray(-similarity, dtype=np.float64)
    np.fill_diagonal(distance, np.inf)
    cut = -min_similarity
    size = np.ones(n)
    alive = np.ones(n, dtype=bool)
    parent = list(range(n))
    chain: list[int] = []
    for _ in range(n - 1):
        a, b = _next_reciprocal_pair(distance, alive, chain)
        if distance[a, b] <= cut:
            parent[_root(parent, b)] = _root(parent, a)
        _merge(distance, size, alive, a, b, linkage)
    roots = [_root(parent, i) for i in range(n)]
    labels: dict[int, int] = {}
    return [labels.setdefault(r, len(labels)) for r in roots]


def _next_reciprocal_pair(distance: np.ndarray, alive: np.ndarray, chain: list[int]) -> tuple[int, int]:
    """Follow nearest neighbours from the chain's end until two clusters are each other's nearest."""
    if not chain:
        chain.append(int(np.flatnonzero(alive)[0]))
    while True:
        a = chain[-1]
        row = np.where(alive, distance[a], np.inf)
        b = int(np.argmin(row))
        if len(chain) > 1 and row[chain[-2]] <= row[b]:
            b = chain[-2]  # ties go back down the chain, so it cannot cycle
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            return a, b
        chain.append(b)


def _merge(distance: np.ndarray, size: np.ndarray, alive: np.ndarray, a: int, b: int, linkage: Linkage) -> None:
    """Cluster b joins cluster a; a's distances follow the Lance-Williams update for the linkage."""
    if linkage is Linkage.COMPLETE:
        row = np.maximum(distance[a], distance[b])
    else:
        row = (size[a] * distance[a] + size[b] * distance[b]) / (size[a] + size[b])
    distance[a, :] = row
    distance[:, a] = row
    distance[a, a] = np.inf
    distance[b, :] = np.inf
    distance[:, b] = np.inf
    size[a] += size[b]
    alive[b] = False


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i
