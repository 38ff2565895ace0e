"""Interfaces to Verity: the FastAPI app (HTTP) and the `verity` command line."""
