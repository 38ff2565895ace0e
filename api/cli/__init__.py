"""`verity`, the command line: the parser, the query commands, the store and server commands.

parser.py builds the parser and holds the entry point; query.py has ask, search and check; service.py has
ingest, serve, centroids and settings; progress.py shows ingest progress.
"""

from api.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
