"""Verity over the Model Context Protocol (being built: issue 7).

Top-level imports stay light: `verity --help` imports this module to build its parser.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `verity mcp` (the stdio server for local clients)."""


def main(args: argparse.Namespace) -> int:
    raise SystemExit("verity mcp: not built yet")
