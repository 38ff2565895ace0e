"""The use cases: ask and search (ask.py), reply drafts, the catalog, request limits."""
