"""Offline evaluation: golden sets and the `verity eval` harness, benchmarks, and what fits the shipped data.

harness/ scores a golden set and gates it on a baseline; benchmarks/ measure speed, abuse, retrieval and the
citation guard and print figures; calibrate/ (the answer-or-refuse decision), negation_cues.py and
reference_corpus.py build the files in rag/data/ from public data sets. golden.py, decision_data.py and
embedding_cache.py are shared by all of them.
"""
