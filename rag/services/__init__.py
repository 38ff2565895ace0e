"""The use cases: ask, search, checked replies (ask.py), answering (answerer.py), streamed answers, reply drafts, the
catalog, limits."""
