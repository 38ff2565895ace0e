"""The citation guard (core.py) and its helpers: what a sentence states (claims), names, polarity, the quote verifier,
the embedding cache."""
