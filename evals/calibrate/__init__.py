"""Fit the answer-or-refuse decision (rag/retrieval/decision.py) on data it is not judged on, and report how it
generalises.

    python -m evals.calibrate [--out rag/data/decision.json] [--json FILE] [--no-write]

1. Builds the knowledge bases of evals/decision_data.py through the real pipeline (ingest, Chroma, the
   bundled embedder; vectors cached in .verity/calibrate/ between runs): XQuAD cards in en, de, es, ru for
   both article splits, with and without the optional `language` field, and the sample KB with and without it.
2. Asks every question through `Verity.signal_table` (exactly what `/v1/ask` computes) and keeps the
   signals of the best cards (1 and 2: collect.py).
3. Leave one language out: for each XQuAD language L, fits on split-0 KBs whose cards and questions are
   not in L (plus the golden set's fit third and Tatoeba questions of TATOEBA_FIT_LANGUAGES) and tests on the
   split-1 KBs' questions in L: answerable answered citing the right card, near misses refused, absent
   articles refused, their mean (outcome accuracy), for English and non-English cards (fit.py fits,
   scores.py judges).
4. Fits the shipped model on all the fit data, chooses the bar, and reports it on what it never saw: XQuAD
   split 1 (with and without `language`), the golden held-out part, Tatoeba questions of other languages
   (__main__.py).
"""
