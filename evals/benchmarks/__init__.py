"""Benchmarks: speed, abuse, XQuAD retrieval and the citation guard, measured and printed (`python -m`).

Each is a script over the real pipeline: speed/ (ingest, ask latency, a real chat model), abuse/ (the costliest
question the limits let through), retrieval/ (XQuAD per language pair against a llama-index peer), guard.py
(defects built from the golden set) and support_set.py (claims planted in XQuAD). The integration tests run
small cuts of some of them with thresholds; nothing here is fitted on.
"""
