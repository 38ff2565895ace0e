"""Language-centred scoring with hand-made vectors whose "language" and "topic" parts are known."""

import numpy as np
import pytest

from rag.domain.vectors import Vectors
from rag.retrieval.centering import LanguageCentroids

DIM = 6
EN, TR = np.eye(DIM, dtype=np.float32)[0], np.eye(DIM, dtype=np.float32)[1]
REFUND, SHIPPING, PASSWORD = (np.eye(DIM, dtype=np.float32)[i] for i in (2, 3, 4))


def text(language: Vectors, topic: Vectors, language_weight: float = 2.0) -> Vectors:
    v = language_weight * language + topic
    return np.asarray(v / np.linalg.norm(v), dtype=np.float32)


def table() -> LanguageCentroids:
    en = [text(EN, t) for t in (REFUND, SHIPPING, PASSWORD)]
    tr = [text(TR, t) for t in (REFUND, SHIPPING, PASSWORD)]
    return LanguageCentroids({"en": np.mean(en, axis=0), "tr": np.mean(tr, axis=0)})


def test_raw_cosine_prefers_the_questions_language_over_the_right_topic() -> None:
    question = text(TR, REFUND)
    assert float(text(TR, SHIPPING) @ question) > float(text(EN, REFUND) @ question)


def test_centred_cosine_prefers_the_right_topic_across_languages() -> None:
    centroids = table()
    query = centroids.prepare_query(text(TR, REFUND))
    assert query.language == "tr"  # no language given: the nearest centroid
    passages = np.stack([text(TR, SHIPPING), text(EN, REFUND)])
    scores = centroids.centre(passages, ["tr", "en"]) @ query.centred
    assert scores[1] > scores[0]


def test_a_passage_without_language_is_centred_by_the_nearest_centroid() -> None:
    centroids = table()
    passage = text(EN, REFUND)
    assert np.allclose(centroids.centre(passage[None], [None]), centroids.centre(passage[None], ["en"]))


def test_an_empty_table_leaves_vectors_alone() -> None:
    empty = LanguageCentroids({})
    vector = text(EN, REFUND)
    prepared = empty.prepare_query(vector)
    assert prepared.language is None
    assert prepared.centred is vector
    assert prepared.candidate is vector
    assert empty.centre(vector[None], ["en"]) is not None
    assert not empty


def test_a_known_question_language_wins_over_the_nearest_centroid() -> None:
    centroids = table()
    mostly_english = text(EN, REFUND, language_weight=1.0) + 0.6 * TR
    assert centroids.prepare_query(mostly_english).language == "en"
    assert centroids.prepare_query(mostly_english, "tr").language == "tr"
    assert centroids.prepare_query(mostly_english, "xx").language == "en"  # unknown code: nearest centroid


def test_questions_and_passages_are_centred_by_their_own_mode() -> None:
    query_means = {"en": text(EN, REFUND), "tr": text(TR, REFUND)}
    passage_means = {"en": text(EN, SHIPPING), "tr": text(TR, SHIPPING)}
    centroids = LanguageCentroids(query_means, passage_means)
    passage = text(EN, PASSWORD)
    expected = (passage - passage_means["en"]) / np.linalg.norm(passage - passage_means["en"])
    np.testing.assert_allclose(centroids.centre(passage[None], ["en"])[0], expected, rtol=1e-5)
    question = text(EN, PASSWORD)
    centred = (question - query_means["en"]) / np.linalg.norm(question - query_means["en"])
    np.testing.assert_allclose(centroids.prepare_query(question, "en").centred, centred, rtol=1e-5)


def test_query_and_passage_tables_must_cover_the_same_languages() -> None:
    with pytest.raises(ValueError):
        LanguageCentroids({"en": text(EN, REFUND)}, {"tr": text(TR, REFUND)})


def test_affinity_takes_the_language_offset_out_of_plain_cosine() -> None:
    centroids = table()
    query = centroids.prepare_query(text(TR, REFUND))
    passages = np.stack([text(TR, SHIPPING), text(EN, REFUND), text(EN, SHIPPING)])
    affinity = centroids.affinity(query, passages, ["tr", "en", "en"])
    raw = passages @ query.raw
    assert raw[0] > raw[1]  # plain cosine: the question's language wins
    assert affinity[1] > affinity[0]  # less each language's offset: the right topic wins
    en_offset = float(np.mean([text(EN, t) for t in (REFUND, SHIPPING, PASSWORD)], axis=0) @ query.raw)
    np.testing.assert_allclose(affinity[1:], raw[1:] - en_offset, rtol=1e-5)  # within a language: plain cosine, shifted


def test_affinity_without_centroids_is_plain_cosine() -> None:
    empty = LanguageCentroids({})
    query = empty.prepare_query(text(TR, REFUND))
    passages = np.stack([text(TR, SHIPPING), text(EN, REFUND)])
    np.testing.assert_allclose(empty.affinity(query, passages, ["tr", "en"]), passages @ query.raw, rtol=1e-5)
