"""Cross-language retrieval benchmark on XQuAD (../shared/datasets/xquad), in one run:

    python -m evals.benchmarks.retrieval [--languages en,de,es,ru] [--paragraphs 240] [--json FILE]

For every (card language, question language) pair, the paragraphs of one language are ingested as
cards and the questions of the other are asked. Printed per pair: recall@1, recall@5 and MRR@10 of
- dense:    the peer, bare dense retrieval with the same model: a plain llama-index VectorStoreIndex
            (default splitter, in-memory vector store, raw cosine) over the paragraphs;
- lexical:  BM25 alone (Verity's tokeniser);
- verity-nolex: Verity's pipeline without the lexical signal; verity: the full pipeline.
Then granularity (what dense retrieval compares: chunks, sentences, or both), should-refuse (a KB that
lacks half the paragraphs: the trade-off curve between answering and wrong answers), and a mixed-language
KB (each paragraph present once, in one of the languages) where same-language distractors compete.
"""
