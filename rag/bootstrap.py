"""Build the heavy objects once, from one Settings, and hand them out explicitly."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, timedelta

from ingest.chunking import Chunker
from ingest.pipeline import Ingestor
from rag.adapters.chroma.collection import build_client
from rag.adapters.chroma.index import ChromaCardIndex
from rag.adapters.embedders import build_embedder
from rag.adapters.state.events import SqlEventLog, UnavailableEventLog, sqlite_url
from rag.answering.extractive import ExtractivePolicy
from rag.answering.guard.core import GuardPolicy
from rag.config import AnswererKind, GuardVerifier, LlmFailure, Settings
from rag.domain.clock import Clock, FixedClock, SystemClock
from rag.domain.errors import VerityError
from rag.ports import CardIndex, ChatModel, Embedder, LanguageDetector
from rag.ports.events import StateEvents
from rag.retrieval.decision import DecisionModel, Judge, Scale
from rag.retrieval.languages import shared_identifier
from rag.retrieval.reference import reference_for
from rag.retrieval.retriever import Calibration
from rag.services.ask import AskPolicy, Verity
from rag.services.events.recording import EventRecorder, RecorderPolicy
from rag.services.gaps.inbox import GapInbox
from rag.services.limits import limited

log = logging.getLogger("verity")


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    embedder: Embedder
    index: CardIndex
    verity: Verity
    clock: Clock
    languages: LanguageDetector | None = None  # detects the language of cards at ingest


def ask_policy(settings: Settings, model: DecisionModel | None = None) -> AskPolicy:
    bar = settings.answer_confidence
    return AskPolicy(
        top_k=settings.top_k,
        answer_confidence=bar if bar is not None else (model or DecisionModel.bundled()).answer_confidence,
        untrusted_margin=settings.untrusted_margin,
        lexical_weight=settings.lexical_weight,
        lexical_saturation=settings.lexical_saturation,
        exact_term_weight=settings.exact_term_weight,
        affinity_weight=settings.affinity_weight,
        extractive=ExtractivePolicy(max_sentences=settings.max_answer_sentences, margin=settings.sentence_margin),
        max_question_chars=settings.max_question_chars,
        unsupported=settings.llm_unsupported,
        llm_fallback=settings.llm_on_failure is LlmFailure.EXTRACTIVE,
        tokens_per_card=settings.llm_tokens_per_card,
        guard=GuardPolicy(support_threshold=settings.guard_support),
        verify_quotes=settings.guard_verifier is GuardVerifier.MODEL,
    )


def build_chat(settings: Settings) -> ChatModel | None:
    """The chat model of VERITY_ANSWERER=llm, or None for the extractive default."""
    if settings.answerer is not AnswererKind.LLM:
        return None
    from rag.adapters.chat import OpenAICompatibleChat

    assert settings.llm_base_url and settings.llm_model  # checked by Settings
    return OpenAICompatibleChat(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value(),
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
    )


def open_event_log(settings: Settings) -> StateEvents:
    """The state store's event log: VERITY_DATABASE_URL, else SQLite beside the embedded Chroma store. One
    that cannot be opened stands in as unavailable (answers go on; the lost events are counted and logged)."""
    url = settings.database_url.get_secret_value() if settings.database_url else sqlite_url(settings.data_dir)
    try:
        return SqlEventLog(url)
    except VerityError as exc:
        log.warning("events will not be recorded: %s", exc.message)
        return UnavailableEventLog(exc)


def build_recorder(settings: Settings, events: StateEvents, clock: Clock) -> EventRecorder:
    """Starts the writer thread: call it from a lifespan or a command, and `close()` it at the end."""
    policy = RecorderPolicy(
        retention=timedelta(days=settings.events_retention_days), keep_text=settings.events_keep_text
    )
    return EventRecorder(events, clock, policy)


def build_gap_inbox(runtime: Runtime, events: StateEvents) -> GapInbox:
    return GapInbox(events, events, runtime.index, runtime.index, runtime.verity.calibration.centroids, runtime.clock)


def open_index(settings: Settings, embedder: Embedder) -> ChromaCardIndex:
    return ChromaCardIndex(
        build_client(settings), settings.collection, embedder.name, embedder.dim, timeout_s=settings.store_timeout_s
    )


def no_language_detection(text: str) -> str | None:
    """A LanguageDetector that never tells: cards that state no `language` are stored without one."""
    return None


def build_ingestor(
    settings: Settings, index: CardIndex, embedder: Embedder, languages: LanguageDetector | None = None
) -> Ingestor:
    """The ingest pipeline as `verity ingest` runs it: chunk size, overlap and embedding batch from `settings`,
    the language of cards that state none detected by `languages` (default: the process's shared identifier;
    `no_language_detection` to store such cards without a language)."""
    return Ingestor(
        index,
        embedder,
        Chunker(settings.chunk_size, settings.chunk_overlap),
        settings.embed_batch_size,
        shared_identifier() if languages is None else languages,
    )


def ingestor_for(runtime: Runtime) -> Ingestor:
    """The ingest pipeline over a runtime's store and embedder, as its settings say; a runtime without a
    language detector (tests' runtimes) detects none."""
    languages = no_language_detection if runtime.languages is None else runtime.languages
    return build_ingestor(runtime.settings, runtime.index, runtime.embedder, languages)


def clock_from(settings: Settings) -> Clock:
    if settings.frozen_now is None:
        return SystemClock()
    log.warning("VERITY_FROZEN_NOW is set: the verification gate reads %s, not the real time", settings.frozen_now)
    instant = settings.frozen_now
    return FixedClock(instant if instant.tzinfo else instant.replace(tzinfo=UTC))


def build_calibration(
    settings: Settings, embedder: Embedder, languages: LanguageDetector, model: DecisionModel | None = None
) -> Calibration:
    """Reference centroids of the embedder (bundled, or VERITY_CENTROIDS_FILE), the decision model, and the
    language identifier. Without centroids for the embedder: the safe, uncalibrated decision (a warning)."""
    model = model or DecisionModel.bundled()
    reference = reference_for(embedder, settings.centroids_file)
    if reference is None:
        return Calibration.uncalibrated(model)
    judge = Judge(model, Scale(reference.anchors), settings.affinity_weight)
    return Calibration(reference.centroids, judge, languages)


def build_runtime(
    settings: Settings,
    embedder: Embedder | None = None,
    clock: Clock | None = None,
    chat: ChatModel | None = None,
    calibration: Calibration | None = None,
) -> Runtime:
    embedder = embedder or build_embedder(settings)
    index = open_index(settings, embedder)
    clock = clock or clock_from(settings)
    languages = shared_identifier()
    calibration = calibration or build_calibration(settings, embedder, languages)
    policy = ask_policy(settings, calibration.judge.model)
    verity = Verity(index, limited(embedder, settings), clock, policy, chat or build_chat(settings), calibration)
    return Runtime(settings=settings, embedder=embedder, index=index, verity=verity, clock=clock, languages=languages)
