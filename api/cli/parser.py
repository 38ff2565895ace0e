"""`verity`'s parser and entry point: ingest, ask, search, check, serve, settings, centroids, eval, mcp.

Top-level imports stay light, so that `verity --help` is quick and importing the CLI builds nothing. The eval
harness is imported only when `verity eval` runs (`cmd_eval`); `verity mcp`'s module is light by design.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from api.cli.knowledge import cmd_gaps
from api.cli.query import cmd_ask, cmd_check, cmd_search
from api.cli.service import cmd_centroids, cmd_ingest, cmd_serve, cmd_settings
from api.mcp import stdio as mcp_stdio
from rag.domain.errors import VerityError

EVAL_HELP = "score a golden set (in process or against a running server)"


def cmd_eval(args: argparse.Namespace) -> int:
    """`verity eval`: its arguments are parsed here, by the harness's own parser, so that the harness (and
    everything it imports) loads only when the command runs."""
    from evals.harness import cli as harness

    parser = argparse.ArgumentParser(prog="verity eval", description=EVAL_HELP)
    harness.add_arguments(parser)
    return harness.main(parser.parse_args(args.arguments))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verity", description="Answers only from verified cards.")
    sub = parser.add_subparsers(dest="command", required=True)
    _query_commands(sub)
    _service_commands(sub)
    return parser


Subcommands = argparse._SubParsersAction  # argparse's own type for what add_subparsers() returns


def _query_commands(sub: Subcommands[argparse.ArgumentParser]) -> None:
    """What reads the knowledge base: ask, search, check, gaps."""
    for name, func, what in (("ask", cmd_ask, "question"), ("search", cmd_search, "query")):
        p = sub.add_parser(name, help=f"{name} the knowledge base")
        p.add_argument(what)
        p.add_argument("--json", action="store_true", help="print the API's JSON")
        p.add_argument("--group", action="append", default=[], help="a group of the asker (repeatable)")
        p.add_argument("--top-k", type=int, default=None)
        p.set_defaults(func=func)

    p = sub.add_parser(
        "check", help="check a reply sentence by sentence against verified cards (exit 1 unless all supported)"
    )
    p.add_argument("text", nargs="?", default=None, help='the reply; omitted or "-": read from standard input')
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.add_argument("--group", action="append", default=[], help="a group of the agent (repeatable)")
    p.add_argument("--top-k", type=int, default=None)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("gaps", help="questions refused for want of any card, grouped into gaps (most asked first)")
    p.add_argument("--days", type=int, default=30, help="the window, in days (default 30)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.add_argument("--group", action="append", default=[], help="a group of the reader (repeatable)")
    p.set_defaults(func=cmd_gaps)


def _service_commands(sub: Subcommands[argparse.ArgumentParser]) -> None:
    """What fills, serves and measures it: ingest, serve, settings, centroids, eval, mcp."""
    p = sub.add_parser("ingest", help="read cards from a folder, .md or .jsonl and index them")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--sync", action="store_true", help="also delete indexed cards the source no longer has")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("serve", help="serve the HTTP API")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("settings", help="print the settings table (Markdown)")
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser(
        "centroids", help="compute the reference language centroids of the configured embedder (an endpoint's model)"
    )
    p.add_argument("--out", type=Path, required=True, help="the .npz file to write (then set VERITY_CENTROIDS_FILE)")
    p.add_argument("--per-language", type=int, default=200, help="sentences per language (the sample has 200)")
    p.add_argument(
        "--anchor-pairs", type=int, default=20, help="translation pairs per language that measure the score anchors"
    )
    p.set_defaults(func=cmd_centroids)

    # everything after `eval` goes to cmd_eval as it is: no prefix character, so no option is read here
    p = sub.add_parser("eval", help=EVAL_HELP, add_help=False, prefix_chars="\0")
    p.add_argument("arguments", nargs="*")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("mcp", help="serve Verity's tools over MCP on stdio (for local agent clients)")
    mcp_stdio.add_arguments(p)
    p.set_defaults(func=mcp_stdio.main)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except VerityError as exc:
        print(f"verity: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
