"""Retrieval: centring, lexical matching, evidence, the language reference, the answer-or-refuse rule."""
