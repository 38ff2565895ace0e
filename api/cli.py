"""`verity`: ingest, ask, search, check, serve, settings, centroids, eval, mcp."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from api.schemas import AskPublic, CheckPublic, SearchPublic
from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport
    from rag.adapters.store_lock import StoreLock
    from rag.services.ask import Verity


def _settings() -> Settings:
    return Settings()


def _hold_embedded_store(settings: Settings, role: str) -> StoreLock | None:
    """Processes that write the embedded store hold it alone (rag/adapters/store_lock.py); a Chroma server is shared."""
    from rag.adapters.store_lock import hold_store

    return hold_store(settings.data_dir, role) if settings.chroma_host is None else None


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings()
    # before the heavy imports (Chroma, the model runtime): an ingest into a folder a server holds stops at once
    lock = _hold_embedded_store(settings, "verity ingest")

    from rich.console import Console

    from api.progress import BarProgress, LogProgress
    from ingest.estimate import estimate_cards
    from ingest.sources import read_source
    from rag.adapters.embedders import build_embedder
    from rag.bootstrap import build_ingestor, open_index

    source = Path(args.path)
    embedder = build_embedder(settings)
    index = open_index(settings, embedder)
    ingestor = build_ingestor(settings, index, embedder)
    console = Console(stderr=True)
    total = estimate_cards(source) if source.exists() else None
    progress: BarProgress | LogProgress = (
        BarProgress(total, console) if console.is_terminal and not args.json else LogProgress(total)
    )
    with progress:
        report = ingestor.run(read_source(source), sync=args.sync, progress=progress)
    if lock is not None:
        lock.release()  # the kernel would on exit; a caller of cmd_ingest may go on
    if args.json:
        print(
            json.dumps(
                {
                    **report.counts(),
                    "records_embedded": report.records_embedded,
                    "tokens_embedded": report.tokens_embedded,
                    "seconds": round(report.seconds, 3),
                    "deleted_ids": report.deleted,
                    "sync_skipped": report.sync_skipped,
                    "failures": [
                        {"path": f.location.path, "line": f.location.line, "card_id": f.card_id, "message": f.message}
                        for f in report.failed
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(summary_table(report))
        for failure in report.failed:
            print(f"FAILED {failure}", file=sys.stderr)
        if report.sync_skipped:
            print(f"SYNC HELD BACK: {report.sync_skipped}", file=sys.stderr)
    return 0 if report.ok else 1


def summary_table(report: IngestReport) -> str:
    counts = report.counts()
    head = ["added", "updated", "unchanged", "deleted", "failed", "tokens embedded", "seconds"]
    row = [*(str(counts[k]) for k in head[:5]), f"{report.tokens_embedded:,}", f"{report.seconds:.1f}"]
    widths = [max(len(h), len(v)) for h, v in zip(head, row, strict=True)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in (head, row))


def _format_date(value: object) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else "never"


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.bootstrap import build_runtime

    runtime = build_runtime(_settings())
    result = AskPublic.of(runtime.verity.ask(args.question, Asker(groups=frozenset(args.group)), args.top_k))
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    if result.answer:
        print(result.answer)
        print()
        for c in result.citations:
            until = _format_date(c.verified_until) if c.verified_until else "no expiry"
            print(f"[{c.marker}] {c.title} ({c.card_id})")
            print(f"    verified by {c.verifier} on {_format_date(c.verified_at)}, valid until {until}")
            if c.url:
                print(f"    {c.url}")
    elif result.refusal:
        print(f"Refused ({result.refusal.reason.value}): {result.refusal.message}")
        for cand in result.refusal.candidates:
            print(f"  - {cand.title} ({cand.card_id}): {cand.status.value}; ask {cand.verifier or cand.owner}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rag.bootstrap import build_runtime

    runtime = build_runtime(_settings())
    result = SearchPublic.of(runtime.verity.search(args.query, Asker(groups=frozenset(args.group)), args.top_k))
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    for rank, hit in enumerate(result.results, start=1):
        print(f"{rank:>2}. {hit.score:.3f}  [{hit.trust.status.value:>10}]  {hit.title} ({hit.card_id})")
    return 0


STATUS_WORDS = {"supported": "SUPPORTED", "not_supported": "NOT SUPPORTED", "not_covered": "NOT COVERED"}


def reply_text(argument: str | None, stdin: TextIO) -> str:
    """The reply to check: the argument, or standard input when it is absent or "-"."""
    if argument is not None and argument != "-":
        return argument
    if stdin.isatty():
        raise VerityError(ErrorCode.INVALID_REQUEST, "give the reply as an argument, or pipe it on standard input")
    return stdin.read()


def check_report(result: CheckPublic) -> str:
    """The readable report of `verity check`: each sentence with its status, then the cards and their words."""
    lines: list[str] = []
    width = max(len(w) for w in STATUS_WORDS.values())
    for sentence in result.sentences:
        lines.append(f"{STATUS_WORDS.get(sentence.status, sentence.status.upper()):<{width}}  {sentence.text}")
        indent = " " * (width + 2)
        if sentence.reason:
            lines.append(f"{indent}why: {sentence.reason}" + (f" ({sentence.detail})" if sentence.detail else ""))
        for card in sentence.cards:
            until = _format_date(card.verified_until) if card.verified_until else "no expiry"
            internal = "; INTERNAL ONLY: not for the customer" if card.internal_only else ""
            label = "checked against" if sentence.status == "not_supported" else "card"
            lines.append(f"{indent}{label}: {card.title} ({card.card_id}), verified until {until}{internal}")
            lines.extend(f'{indent}  "{words}"' for words in card.evidence)
    s = result.summary
    verdict = "quotable to a customer" if s.quotable else "not quotable to a customer as it is"
    lines.append("")
    lines.append(
        f"{s.sentences} sentences: {s.supported} supported, {s.not_supported} not supported, "
        f"{s.not_covered} not covered; {verdict}"
    )
    return "\n".join(lines)


def run_check(args: argparse.Namespace, verity: Verity, stdin: TextIO) -> int:
    """`verity check` over `verity`: 0 when every sentence is supported, 1 otherwise (like a linter)."""
    text = reply_text(args.text, stdin)
    result = CheckPublic.of(verity.check_reply(text, Asker(groups=frozenset(args.group)), args.top_k))
    print(result.model_dump_json(indent=2) if args.json else check_report(result))
    return 0 if result.summary.supported == result.summary.sentences else 1


def cmd_check(args: argparse.Namespace) -> int:
    from rag.bootstrap import build_runtime

    return run_check(args, build_runtime(_settings()).verity, sys.stdin)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = _settings()
    lock = _hold_embedded_store(settings, f"verity serve on port {args.port or settings.port}")
    try:
        uvicorn.run(create_app(settings), host=args.host or settings.host, port=args.port or settings.port)
    finally:
        if lock is not None:
            lock.release()
    return 0


def cmd_centroids(args: argparse.Namespace) -> int:
    """Reference language centroids of the configured embedder, from the bundled Tatoeba sample."""
    from rag.adapters.embedders import build_embedder
    from rag.retrieval.reference import compute, reference_sentences

    settings = _settings()
    embedder = build_embedder(settings)
    corpus = reference_sentences()

    def progress(language: str, done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            print(f"{done}/{total} languages", file=sys.stderr, flush=True)

    reference = compute(
        embedder, corpus, args.per_language, settings.embed_batch_size, progress, anchor_pairs=args.anchor_pairs
    )
    reference.save(args.out)
    a = reference.anchors
    print(
        f"wrote {args.out}: {len(reference.centroids.languages)} languages of {embedder.name!r}; score anchors "
        f"(centred) related {a.centred_related:.3f}, unrelated {a.centred_unrelated:.3f}. "
        f"Set VERITY_CENTROIDS_FILE={args.out} for Verity to use them."
    )
    return 0


def settings_table() -> str:
    """The README's settings table, generated from the Settings fields (a test keeps the README in step)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default is None else f"`{getattr(default, 'value', default)}`"
        lines.append(f"| `VERITY_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(lines)


def cmd_settings(args: argparse.Namespace) -> int:
    print(settings_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verity", description="Answers only from verified cards.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="read cards from a folder, .md or .jsonl and index them")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--sync", action="store_true", help="also delete indexed cards the source no longer has")
    p.set_defaults(func=cmd_ingest)

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

    from api.mcp import stdio as mcp_stdio
    from evals.harness import cli as eval_cli

    p = sub.add_parser("eval", help="score a golden set (in process or against a running server)")
    eval_cli.add_arguments(p)
    p.set_defaults(func=eval_cli.main)

    p = sub.add_parser("mcp", help="serve Verity's tools over MCP on stdio (for local agent clients)")
    mcp_stdio.add_arguments(p)
    p.set_defaults(func=mcp_stdio.main)
    return parser


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


if __name__ == "__main__":
    raise SystemExit(main())
