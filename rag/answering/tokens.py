"""tiktoken `cl100k_base`, loaded offline from the copy that llama-index-core bundles."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import tiktoken
from tiktoken.load import load_tiktoken_bpe

_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# tiktoken_ext.openai_public's cl100k_base pattern, verbatim
_CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""  # noqa: E501 - kept on one line to match the source
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def _bundled_file() -> Path:
    import llama_index.core

    cache_dir = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
    return cache_dir / hashlib.sha1(_CL100K_URL.encode()).hexdigest()


@cache
def cl100k() -> tiktoken.Encoding:
    """The encoding, checked against its published SHA-256; never downloads."""
    ranks = load_tiktoken_bpe(str(_bundled_file()), expected_hash=_CL100K_SHA256)
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=_CL100K_SPECIAL
    )


def count_tokens(text: str) -> int:
    return len(cl100k().encode(text, disallowed_special=()))
