"""The use cases: ask, search and checked replies (ask.py), streamed answers, reply drafts, the catalog, request limits."""
