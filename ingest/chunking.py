"""Token-aware chunking (llama-index SentenceSplitter over tiktoken cl100k) plus sentence records.

Every record carries the card title: chunks start with it, sentences are embedded with it, so a
window cut from the middle of a card still says what it is about. A record whose own text already opens
with the title (a Markdown card that starts with `# <title>`, an import whose title is the first line or
the first words of the body) is embedded without a second copy of it: the repeat weighs those words
twice in the vector and measurably costs retrieval (README, "Retrieval quality").
"""

from __future__ import annotations

import hashlib
import json
from functools import partial

from llama_index.core.node_parser import SentenceSplitter

from rag.answering.sentences import split_sentences
from rag.answering.tokens import cl100k
from rag.domain.cards import Card
from rag.domain.types import RecordKind
from rag.ports import CardVersion, IndexRecord

CHUNKING_VERSION = 2  # bump when the records made from a card change, so every card is re-embedded
LANGUAGE_VERSION = 1  # bump when the stored language of a card may change (detector): facts are rewritten


class Chunker:
    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._encode = partial(cl100k().encode, disallowed_special=())
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=self._encode, include_metadata=False
        )

    def _header(self, title: str) -> str:
        """The title, cut to at most half a chunk so that the body always gets room."""
        tokens = self._encode(title)
        budget = self.chunk_size // 2
        if len(tokens) <= budget:
            return title
        return cl100k().decode(tokens[:budget]).rstrip() + "…"

    def records(self, card: Card, version: CardVersion) -> list[IndexRecord]:
        header = self._header(card.title)
        windows = self._splitter.split_text_metadata_aware(card.body, metadata_str=header + "\n\n")
        prefix = f"{card.id}::{version.content_hash[:16]}"
        records = [
            IndexRecord(
                record_id=f"{prefix}::chunk::{i}",
                kind=RecordKind.CHUNK,
                position=i,
                document=f"{header}\n\n{window}",
                embed_text=window if opens_with(window, card.title) else f"{header}\n\n{window}",
            )
            for i, window in enumerate(w for w in windows if w.strip())
        ]
        records += [
            IndexRecord(
                record_id=f"{prefix}::sentence::{i}",
                kind=RecordKind.SENTENCE,
                position=i,
                document=sentence,
                embed_text=sentence if opens_with(sentence, card.title) else f"{header}: {sentence}",
            )
            for i, sentence in enumerate(split_sentences(card.body))
        ]
        return records

    def version(self, card: Card, embedder_name: str) -> CardVersion:
        """content_hash covers what is embedded; meta_hash the trust and visibility facts."""
        content = {
            "title": card.title,
            "body": card.body,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "chunking": CHUNKING_VERSION,
            "embedder": embedder_name,
        }
        meta = {**card.model_dump(mode="json", exclude={"title", "body"}), "language_version": LANGUAGE_VERSION}
        return CardVersion(content_hash=_digest(content), meta_hash=_digest(meta))


def opens_with(text: str, title: str) -> bool:
    """Whether `text` already starts with `title`, case, runs of white space and Markdown heading marks
    aside (`# Refunds for Pro Annual:` opens with the title `Refunds for pro annual`)."""
    wanted = title.casefold().split()
    if not wanted:
        return False
    words = text.lstrip().lstrip("#").casefold().split(maxsplit=len(wanted))[: len(wanted)]
    opening, target = " ".join(words), " ".join(wanted)
    # whole words only ("Refund" does not open "Refunds are..."); trailing punctuation is allowed
    return opening.startswith(target) and (len(opening) == len(target) or not opening[len(target)].isalnum())


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
