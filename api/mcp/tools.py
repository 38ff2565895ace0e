"""Verity's tools for AI agents over the Model Context Protocol: ask, search, get_card, draft_reply, check_reply,
and list_gaps for the knowledge team.

Each tool calls the same core function as its REST endpoint and returns the same public schema
(api/schemas/) as structured output, so an agent and an HTTP client read the same objects. Who is asking
comes from the transport (`AskerOf`): the request's key or gateway groups over HTTP, `--group` flags on stdio;
an agent never names its own groups in a tool call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Protocol, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from api.schemas import AskPublic, CardPublic, CheckPublic, DraftPublic, SearchPublic
from api.schemas.gaps import GapPublic, GapsPublic
from rag.domain.cards import ID_PATTERN
from rag.domain.errors import VerityError
from rag.domain.types import Asker
from rag.services.ask import Verity
from rag.services.catalog import CardView, not_found
from rag.services.gaps.inbox import Gap

T = TypeVar("T")

AskerOf = Callable[[Context], Asker]
"""Who is asking in this tool call, from the transport; raises ToolError when it cannot tell."""


class GapLister(Protocol):
    """What `list_gaps` needs of the gap inbox (rag/services/gaps/inbox.py)."""

    def gaps(self, reader: Asker, window: timedelta | None = None, limit: int = 20) -> list[Gap]: ...

    def now(self) -> datetime: ...


class CardReader(Protocol):
    """What `get_card` needs of the Catalog: None for a card that does not exist or that the asker may not see."""

    def get(self, card_id: str, asker: Asker) -> CardView | None: ...


INSTRUCTIONS = """\
Verity answers questions about the company's products and policies ONLY from verified knowledge cards, \
and cites every card it uses. It never answers from unverified or expired cards, and never from its own \
knowledge: when verified cards do not cover a question it refuses and says why. Use `ask` for a question, \
`search` to see which cards exist and whether they are trusted now, `get_card` to read one card, \
`draft_reply` to draft a reply to a customer, and `check_reply` to check a reply you wrote before you send \
it. Do not add facts of your own to Verity's answers; when \
Verity refuses, pass the refusal on instead of guessing."""

REFUSALS = """\
How to read a refusal (`outcome` is "refused", `refusal.reason` says why):
- no_evidence: no verified card you may see covers the question. Do not answer it from your own knowledge; \
say the knowledge base does not cover it, and suggest writing a card or asking the owner of the topic.
- only_unverified: the only cards on the topic have never been verified. `refusal.candidates` names them with \
their owner and verifier: ask the verifier to verify the card. Never quote or paraphrase those cards.
- only_expired: the cards on the topic were verified once but their verification has expired \
(`verified_until` is past). Ask the verifier named in `refusal.candidates` to re-verify; do not rely on them."""

ASK = f"""\
Answer a question (any language) from verified knowledge cards only, or refuse with the reason.

An answer (`outcome` "answered") is made of sentences from verified cards; every sentence ends with a \
citation marker [n], and `citations` gives for each marker the card id, title, url, verifier, \
verified_at, verified_until and the quoted snippet. Every claim in the answer is cited: keep the markers \
and citations when you pass the answer on, and do not add claims of your own. A citation with \
`internal_only` true is an internal note: never quote it to a customer.

{REFUSALS}"""

SEARCH = """\
Rank the knowledge cards you may see for a query (any language), best first, with their trust facts: \
`trust.status` is verified (may be relied on now), expired (verification ran out at `trust.verified_until`) \
or unverified (never verified), with owner and verifier. Only verified cards carry a `snippet`. Search does \
not answer: use `ask` for an answer with citations; never present an expired or unverified card as fact."""

GET_CARD = """\
Read one knowledge card by its id (as given by `search`, `ask` citations or refusal candidates), with its \
trust facts as of now: `status` verified, expired or unverified, and `verified_until`. Rely on the card's \
text only when `status` is "verified"; otherwise ask its verifier (`card.verifier`) to verify it. A card \
that does not exist and a card you may not see are answered alike: "no card ..."."""

DRAFT_REPLY = f"""\
Draft a reply to a customer message (any language), built only from verified cards that are not internal \
notes; `context` (optional) is ticket context such as product, plan or history, never quoted to the customer.

`outcome` "drafted": `reply` is the text for the customer (greeting, verified facts without citation \
markers, closing, in the customer's language); `cards` are the verified cards it rests on, for you to check; \
read `notes` before sending (e.g. quoted sentences still in the card's language). `outcome` "needs_human": \
`reply` is a holding reply that promises nothing, and `needs_human.reason` says what a human must decide: \
no_evidence, only_unverified or only_expired (as for `ask`: whom to ask is in `needs_human.cards`), or \
internal_only (only internal notes cover it: a human decides what may be shared). Never send facts that are \
not in the draft.

{REFUSALS}"""

CHECK_REPLY = """\
Check a reply you wrote (any language, with or without [n] markers, which are ignored) against the verified \
knowledge cards you may see, sentence by sentence, before you send it. Each sentence gets a `status`:
- supported: verified cards say it; `cards` lists them with `evidence`, their exact words that support it. \
A card with `internal_only` true (`quotable_to_customer` false) is an internal note: it backs the sentence for \
you, but the sentence must not go to a customer on its strength alone.
- not_supported: verified cards cover the topic but do not say this; `reason` says why (e.g. unsupported_fact: \
a number or identifier the cards do not state; negation_mismatch: the cards say the opposite), `detail` in \
words, `cards` the cards it was checked against. Correct the sentence from those cards or remove it.
- not_covered: no verified card you may see is about it. Do not send it as fact; remove it, or ask the \
knowledge team. Greetings and courtesy lines are not_covered too: that is expected.
`summary.quotable` is true only when every sentence is supported by a card that may be quoted to a customer. \
Unverified and expired cards never support a sentence."""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

Question = Annotated[str, Field(min_length=1, description="The question, in any language.")]
Query = Annotated[str, Field(min_length=1, description="What to search for, in any language.")]
TopK = Annotated[int | None, Field(ge=1, le=50, description="Cards to retrieve (default: the server's setting).")]
CardId = Annotated[str, Field(pattern=ID_PATTERN, description="The card's id.")]
Message = Annotated[str, Field(min_length=1, description="The customer's message, in any language.")]
Reply = Annotated[str, Field(min_length=1, description="The reply to check, as written, in any language.")]
TicketContext = Annotated[
    str | None, Field(description="Ticket context for drafting (product, plan, history); never quoted.")
]


async def _call(fn: Callable[..., T], *args: object) -> T:
    """Run a blocking core call in a worker thread; its VerityError (which never carries card text the
    caller may not see) becomes a tool error the agent can read."""
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))
    except VerityError as exc:
        raise ToolError(exc.message) from exc


def build_mcp_server(
    verity: Verity, cards: CardReader, asker_of: AskerOf, gap_inbox: GapLister | None = None
) -> MCPServer:
    server: MCPServer = MCPServer("verity", title="Verity", instructions=INSTRUCTIONS, version="0.1.0")

    @server.tool(name="ask", title="Ask the verified knowledge base", description=ASK, annotations=READ_ONLY)
    async def ask(question: Question, ctx: Context, top_k: TopK = None) -> AskPublic:
        return AskPublic.of(await _call(verity.ask, question, asker_of(ctx), top_k))

    @server.tool(name="search", title="Search cards with trust facts", description=SEARCH, annotations=READ_ONLY)
    async def search(query: Query, ctx: Context, top_k: TopK = None) -> SearchPublic:
        return SearchPublic.of(await _call(verity.search, query, asker_of(ctx), top_k))

    @server.tool(name="get_card", title="Read one card", description=GET_CARD, annotations=READ_ONLY)
    async def get_card(card_id: CardId, ctx: Context) -> CardPublic:
        view = await _call(cards.get, card_id, asker_of(ctx))
        if view is None:  # the same answer for a card that does not exist and for one the asker may not see
            raise ToolError(not_found(card_id).message)
        return CardPublic.of(view)

    @server.tool(name="draft_reply", title="Draft a customer reply", description=DRAFT_REPLY, annotations=READ_ONLY)
    async def draft_reply(
        message: Message, ctx: Context, context: TicketContext = None, top_k: TopK = None
    ) -> DraftPublic:
        return DraftPublic.of(await _call(verity.draft_reply, message, asker_of(ctx), context, top_k))

    @server.tool(
        name="check_reply", title="Check a reply before sending", description=CHECK_REPLY, annotations=READ_ONLY
    )
    async def check_reply(text: Reply, ctx: Context, top_k: TopK = None) -> CheckPublic:
        return CheckPublic.of(await _call(verity.check_reply, text, asker_of(ctx), top_k))

    @server.tool(
        name="list_gaps", title="Questions Verity could not answer", description=LIST_GAPS, annotations=READ_ONLY
    )
    async def list_gaps(ctx: Context, days: GapDays = 30, limit: GapLimit = 20) -> GapsPublic:
        if gap_inbox is None:
            raise ToolError("the gap inbox is not available on this server")
        found = await _call(gap_inbox.gaps, asker_of(ctx), timedelta(days=days), limit)
        return GapsPublic(as_of=gap_inbox.now(), window_days=days, gaps=[GapPublic.of(g) for g in found])

    return server


LIST_GAPS = """\
For the knowledge team: the questions Verity refused because no verified card covers them (no_evidence), grouped \
across languages into gaps, most asked first, with examples, the nearest cards and their owners (whom to ask \
to write the missing card). Closed gaps whose questions are refused again are marked reopened."""
GapDays = Annotated[int, Field(ge=1, le=365, description="The window: questions refused in the last N days.")]
GapLimit = Annotated[int, Field(ge=1, le=200, description="At most this many gaps.")]


def fixed_asker(asker: Asker) -> AskerOf:
    """Every call asks as `asker`: the stdio server, whose groups are set when it starts."""
    return lambda _ctx: asker
