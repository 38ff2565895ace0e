"""Language-centred scoring: take each language's mean vector out before comparing.

multilingual-e5 vectors carry a strong "which language is this" component, so a question scores
higher against any card in its own language than against the right card in another, and every
question scores high (0.75-0.95) against every card. Subtracting each text's language centroid
(Libovický et al., 2020, "On the Language Neutrality of Pre-trained Multilingual Representations")
removes most of that bias.

The centroids are *reference* centroids (rag/retrieval/reference.py): the mean vector of everyday sentences of
each language, from a corpus that is not the knowledge base (Tatoeba), one mean per language for
questions (`query: ` mode) and one for passages (`passage: ` mode). So a centred score means the same
on every knowledge base: it does not move when cards are added, removed, or written in other languages,
and it needs no `language` field on any card. A text is centred by its own language when that is known
(a card's `language`, or the language detected at ingest and for every question), else by the language
whose centroid its vector is nearest to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rag.domain.vectors import Vectors


def unit(x: Vectors) -> Vectors:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.asarray(x / np.where(norm == 0, 1.0, norm), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    language: str | None  # the language the question was centred by
    centred: Vectors  # compare with centred passages
    candidate: Vectors  # send to the store: the question moved to the centre of all languages
    raw: Vectors  # the question as embedded (unit length)


class LanguageCentroids:
    """Immutable table: language -> mean raw vector of its questions and of its passages.

    An empty table (an embedder without reference centroids, or hand-made test vectors) leaves vectors as
    they are: scores are plain cosines, which rag/retrieval/decision.py treats as uncalibrated."""

    def __init__(self, query_means: Mapping[str, Vectors], passage_means: Mapping[str, Vectors] | None = None) -> None:
        passages = query_means if passage_means is None else passage_means
        if set(passages) != set(query_means):
            raise ValueError("query and passage centroids must cover the same languages")
        self._languages = tuple(sorted(query_means))
        self._index = {lang: i for i, lang in enumerate(self._languages)}
        if self._languages:
            self._query = np.stack([np.asarray(query_means[x], dtype=np.float32) for x in self._languages])
            self._passage = np.stack([np.asarray(passages[x], dtype=np.float32) for x in self._languages])
        else:
            self._query = self._passage = np.zeros((0, 0), dtype=np.float32)
        self._unit_query = unit(self._query) if self._languages else self._query
        self._unit_passage = unit(self._passage) if self._languages else self._passage
        self._centre = self._passage.mean(axis=0) if self._languages else None

    @property
    def languages(self) -> tuple[str, ...]:
        return self._languages

    @property
    def dim(self) -> int:
        return int(self._query.shape[1]) if self._languages else 0

    def __bool__(self) -> bool:
        return bool(self._languages)

    def __contains__(self, language: object) -> bool:
        return language in self._index

    def query_mean(self, language: str) -> Vectors:
        return np.asarray(self._query[self._index[language]], dtype=np.float32)

    def passage_mean(self, language: str) -> Vectors:
        return np.asarray(self._passage[self._index[language]], dtype=np.float32)

    def detect(self, vector: Vectors, passage: bool = False) -> str | None:
        """The language whose centroid is nearest (in direction) to a raw vector."""
        if not self:
            return None
        means = self._unit_passage if passage else self._unit_query
        return self._languages[int(np.argmax(means @ vector))]

    def _means_of(self, languages: Sequence[str | None], vectors: Vectors, passage: bool) -> Vectors:
        table = self._passage if passage else self._query
        rows = [
            self._index[lang] if lang in self._index else self._index[str(self.detect(v, passage))]
            for lang, v in zip(languages, vectors, strict=True)
        ]
        return table[rows]

    def prepare_query(self, vector: Vectors, language: str | None = None) -> PreparedQuery:
        """Centre a question by `language` (as detected from its text) or, when unknown, its nearest centroid."""
        if not self or self._centre is None:
            return PreparedQuery(None, vector, vector, unit(vector))
        used = language if language in self._index else self.detect(vector)
        mean = self._means_of([used], vector[None], passage=False)[0]
        centred = unit(vector - mean)
        return PreparedQuery(used, centred, unit(centred + self._centre), unit(vector))

    def passage_languages(self, vectors: Vectors, languages: Sequence[str | None]) -> list[str | None]:
        """The language each passage is centred by: its own where known, else its vector's nearest."""
        if not self:
            return list(languages)
        return [
            lang if lang in self._index else self.detect(v, True) for lang, v in zip(languages, vectors, strict=True)
        ]

    def centre(self, vectors: Vectors, languages: Sequence[str | None]) -> Vectors:
        """Centred, unit-length copies of raw passage vectors (rows), each by its own language."""
        if not self or len(vectors) == 0:
            return vectors
        return unit(vectors - self._means_of(languages, vectors, passage=True))

    def affinity(self, query: PreparedQuery, vectors: Vectors, languages: Sequence[str | None]) -> Vectors:
        """Plain cosine of the raw question with each raw passage, less the passage language's offset.

        q·p = q·m_L + q·(p - m_L): the first term is the same for every card of language L (the language
        bias), the second is what the question and the card share. Within one card language this ranks
        exactly as plain cosine, and across languages the bias is gone. Without centroids: plain cosine.
        """
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float32)
        cosines = unit(vectors) @ query.raw
        if not self:
            return np.asarray(cosines, dtype=np.float32)
        offsets = self._means_of(languages, vectors, passage=True) @ query.raw
        return np.asarray(cosines - offsets, dtype=np.float32)
