"""Observing a golden set, in this process or over HTTP, as the same Observation.

inprocess.py asks `Verity` itself, http.py a running server; everything after observation.py scores both alike.
"""
