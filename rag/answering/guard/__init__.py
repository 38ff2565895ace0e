"""The citation guard (core.py) and its helpers: claims, names, polarity, the quote verifier, the embedding cache."""
