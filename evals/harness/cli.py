"""Arguments and entry point of `verity eval`.

Top-level imports stay light: `verity --help` imports this module to build its parser.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `verity eval`."""


def main(args: argparse.Namespace) -> int:
    raise SystemExit("verity eval: not built yet")
