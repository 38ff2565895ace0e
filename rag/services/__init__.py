"""The use cases: ask, search, checked replies (ask.py), streamed answers, reply drafts, the catalog, limits."""
