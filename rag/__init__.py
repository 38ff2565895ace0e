"""Verity core: card types, trust policy, retrieval, answering and refusal.

This package imports no web framework; `ingest/`, `api/` and `evals/` depend on it.
"""
