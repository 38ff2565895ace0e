"""The one Settings object (prefix VERITY_). Nothing else in Verity reads the environment."""

from rag.config.choices import AnswererKind, EmbedderKind, GuardVerifier, LlmFailure, LlmUnsupported
from rag.config.keys import parse_read_keys, parse_write_keys
from rag.config.settings import Settings, default_of

__all__ = [
    "AnswererKind",
    "EmbedderKind",
    "GuardVerifier",
    "LlmFailure",
    "LlmUnsupported",
    "Settings",
    "default_of",
    "parse_read_keys",
    "parse_write_keys",
]
