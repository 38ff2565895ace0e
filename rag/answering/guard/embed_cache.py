"""An embedder that remembers what it embedded in batches: the citation guard's embedder.

The guard embeds the sentences of its evidence for every answer it checks, and `/v1/check` checks every
sentence of a reply against the cards found for it: the same card sentences, again and again. Behind this
wrapper each text is embedded once while it stays among the `size` most recently used (per kind: passages
and queries are embedded differently). A vector depends on the text and the model alone, so a remembered one
is the vector the model would give; nothing but vectors is kept, keyed by the text.

`embed_query` (a person's question) passes through unremembered, under the limits of rag/services/limits.py.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from rag.ports import Embedder, Vectors

DEFAULT_SIZE = 4096  # vectors per kind: about 6 MB each at 384 dimensions


class _Remembered:
    """Least recently used vectors of one kind, safe to share between threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> Vectors | None:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
            return vector

    def put(self, text: str, vector: Vectors) -> None:
        with self._lock:
            self._vectors[text] = vector
            self._vectors.move_to_end(text)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vectors)


class RememberingEmbedder:
    """`inner`, with the vectors of `embed_passages` and `embed_queries` remembered per text."""

    def __init__(self, inner: Embedder, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("RememberingEmbedder needs size >= 1")
        self.inner = inner
        self.passages = _Remembered(size)
        self.queries = _Remembered(size)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_query(self, text: str) -> Vectors:
        return self.inner.embed_query(text)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, self.passages, self.inner.embed_passages)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, self.queries, self.inner.embed_queries)

    def remember_queries(self, texts: Sequence[str], vectors: Vectors) -> None:
        """Vectors of `texts` embedded as queries elsewhere (a reply's sentences, embedded in one batch)."""
        for text, vector in zip(texts, vectors, strict=True):
            self.queries.put(text, vector)

    def _embed(self, texts: Sequence[str], memory: _Remembered, embed: Callable[[Sequence[str]], Vectors]) -> Vectors:
        if not texts:
            return embed(texts)
        found = [memory.get(t) for t in texts]
        missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        fresh: dict[str, Vectors] = dict(zip(missing, embed(missing), strict=True)) if missing else {}
        for text, vector in fresh.items():
            memory.put(text, vector)
        return np.stack([v if v is not None else fresh[t] for t, v in zip(texts, found, strict=True)])
