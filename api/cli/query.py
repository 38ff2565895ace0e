"""`verity ask`, `verity search` and `verity check`: the knowledge base from a terminal, or as the API's JSON."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from api.schemas import AskPublic, CheckPublic, SearchPublic
from rag.config import Settings
from rag.domain.errors import ErrorCode, VerityError
from rag.domain.types import Asker

if TYPE_CHECKING:
    from rag.services.ask import Verity


def _format_date(value: object) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else "never"


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.bootstrap import build_runtime

    runtime = build_runtime(Settings())
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

    runtime = build_runtime(Settings())
    result = SearchPublic.of(runtime.verity.search(args.query, Asker(groups=frozenset(args.group)), args.top_k))
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    for rank, hit in enumerate(result.results, start=1):
        print(f"{rank:>2}. {hit.rank_score:.3f}  [{hit.trust.status.value:>10}]  {hit.title} ({hit.card_id})")
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

    return run_check(args, build_runtime(Settings()).verity, sys.stdin)
