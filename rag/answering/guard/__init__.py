"""The citation guard (core.py) and its helpers: names, polarity, the quote verifier, the embedding cache."""
