"""`verity gaps`: the knowledge team's gap inbox from a terminal, or as the API's JSON."""

from __future__ import annotations

import argparse
from datetime import timedelta

from api.schemas.gaps import GapPublic, GapsPublic
from rag.config import Settings
from rag.domain.types import Asker


def cmd_gaps(args: argparse.Namespace) -> int:
    from rag.bootstrap import build_gap_inbox, build_runtime, open_event_log

    settings = Settings()
    runtime = build_runtime(settings)
    events = open_event_log(settings)
    try:
        inbox = build_gap_inbox(runtime, events)
        found = inbox.gaps(Asker(groups=frozenset(args.group), subject="cli"), timedelta(days=args.days), args.limit)
        result = GapsPublic(as_of=inbox.now(), window_days=args.days, gaps=[GapPublic.of(g) for g in found])
    finally:
        events.close()
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    if not result.gaps:
        print(f"No question was refused for want of a card in the last {args.days} days.")
    for gap in result.gaps:
        languages = ", ".join(f"{code} {n}" for code, n in gap.languages.items())
        print(f"{gap.id}  {gap.count} questions, {gap.askers} askers  [{gap.status.value}]  {languages}")
        print(f"    seen {gap.first_seen:%Y-%m-%d} .. {gap.last_seen:%Y-%m-%d}")
        for example in gap.examples:
            print(f"    - ({example.language or 'und'}) {example.question or '[text not kept]'}")
        for card in gap.nearest_cards:
            print(f"    near: {card.title} ({card.card_id}) [{card.status.value}]; owner {card.owner or '-'}")
    return 0
