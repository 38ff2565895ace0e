"""`verity`, the command line: the parser and entry point (parser.py), the commands that query the knowledge
base (query.py) and those that feed, serve and describe it (service.py), with ingest progress (progress.py)."""

from api.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
