"""`verity ingest`, `verity serve`, `verity centroids` and `verity settings`: feed the store, serve it, and
describe the configuration."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import Settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport
    from rag.adapters.store_lock import StoreLock


def _hold_embedded_store(settings: Settings, role: str) -> StoreLock | None:
    """Processes that write the embedded store hold it alone (rag/adapters/store_lock.py); a Chroma server is shared."""
    from rag.adapters.store_lock import hold_store

    return hold_store(settings.data_dir, role) if settings.chroma_host is None else None


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = Settings()
    # before the heavy imports (Chroma, the model runtime): an ingest into a folder a server holds stops at once
    lock = _hold_embedded_store(settings, "verity ingest")

    from rich.console import Console

    from api.cli.progress import BarProgress, LogProgress
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


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = Settings()
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

    settings = Settings()
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
