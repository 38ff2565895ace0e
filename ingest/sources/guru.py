"""Guru card exports: a JSON array or JSONL of Guru API card objects, mapped onto Verity's Card.

The Guru object is read field by field into Card input and validated like every other source, so a
failure reads the same; messages name the Guru key (`preferredPhrase`, not `title`) so an editor can find it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import quote

from bs4 import BeautifulSoup, Tag
from markdownify import ATX, STRIP, MarkdownConverter

from ingest.sources.common import CardFailure, Location, ParsedCard, SourceItem, read_text, validate
from rag.domain.cards import Card, CardState

GURU_CARD_URL = "https://app.getguru.com/card/"
STATES = {"TRUSTED": CardState.VERIFIED, "NEEDS_VERIFICATION": CardState.UNVERIFIED}
DEFAULT_COLLECTION = "general"

# Card field -> the Guru key it comes from, to name the Guru key in messages.
GURU_KEYS = {
    "id": "id",
    "title": "preferredPhrase",
    "body": "content",
    "collection": "collection.name",
    "owner": "owner.email",
    "verifier": "verifiers",
    "state": "verificationState",
    "verified_at": "lastVerified",
    "verify_interval_days": "verificationInterval",
    "next_verification_at": "nextVerificationDate",
    "url": "slug",
    "tags": "tags",
}
# Card-level messages from rag.domain.cards -> (the Card field concerned, the message in Guru terms).
GURU_MESSAGES = {
    "a verified card needs verified_at": ("verified_at", "lastVerified: a TRUSTED card needs lastVerified"),
    "a verified card needs a verifier": ("verifier", "verifiers: a TRUSTED card needs a verifier"),
}

_Object = Mapping[str, object]


def read_guru(path: Path) -> Iterator[SourceItem]:
    """Cards of a Guru export file (`*.guru.json` or `*.guru.jsonl`)."""
    text = read_text(path)
    if isinstance(text, CardFailure):
        yield text
        return
    yield from parse_guru(text, str(path))


def parse_guru(text: str, path: str) -> Iterator[SourceItem]:
    """Pure: a Guru export (JSON array if it starts with `[`, else JSONL) -> one item per card, with its line."""
    if text.lstrip().startswith("["):
        yield from _parse_array(text, path)
    else:
        yield from _parse_lines(text, path)


def _parse_lines(text: str, path: str) -> Iterator[SourceItem]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        location = Location(path, number)
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield CardFailure(location, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield _card_item(value, location)


def _parse_array(text: str, path: str) -> Iterator[SourceItem]:
    """Walks the array with raw_decode so each card keeps the line its object starts on.

    An array that is not valid JSON as a whole gives one failure and no cards: half a truncated
    export is not read as if it were the whole of it.
    """
    found = _split_array(text)
    if isinstance(found, tuple):
        line, column, message = found
        yield CardFailure(Location(path, line), f"invalid JSON array: {message} (column {column})")
        return
    for offset, value in found:
        yield _card_item(value, Location(path, text.count("\n", 0, offset) + 1))


def _split_array(text: str) -> list[tuple[int, object]] | tuple[int, int, str]:
    """(offset, value) of each array item, or (line, column, message) of the first JSON error."""
    decoder = json.JSONDecoder()
    items: list[tuple[int, object]] = []
    index = _skip_space(text, text.index("[") + 1)
    if index < len(text) and text[index] == "]":
        return _after_array(text, index + 1) or items
    while True:
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            return exc.lineno, exc.colno, exc.msg
        items.append((index, value))
        index = _skip_space(text, end)
        char = text[index] if index < len(text) else ""
        if char == "]":
            return _after_array(text, index + 1) or items
        if char != ",":
            return *_line_column(text, index), "expected ',' or ']' after an array item"
        index = _skip_space(text, index + 1)


def _after_array(text: str, index: int) -> tuple[int, int, str] | None:
    index = _skip_space(text, index)
    if index < len(text):
        return *_line_column(text, index), "extra data after the closing ']'"
    return None


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _line_column(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _card_item(value: object, location: Location) -> SourceItem:
    """One Guru card object -> a ParsedCard, or a failure whose message names Guru keys."""
    if not isinstance(value, dict):
        return CardFailure(location, "each Guru card must be a JSON object")
    guru: _Object = value
    guru_id = guru.get("id")
    card_id = guru_id if isinstance(guru_id, str) else None
    raw, problems = _card_input(guru)
    card = validate(raw)
    if isinstance(card, Card) and not problems:
        return ParsedCard(card, location)
    messages = list(problems.values())
    if not isinstance(card, Card):
        for field, message in card:
            concerned, text = _in_guru_terms(field, message)
            if concerned not in problems:  # else already told in Guru terms
                messages.append(text)
    return CardFailure(location, "; ".join(messages), card_id)


def _in_guru_terms(field: str, message: str) -> tuple[str, str]:
    """(Card field concerned, message naming the Guru key) for one validation message."""
    if not field:
        return GURU_MESSAGES.get(message, (field, message))
    guru_key = GURU_KEYS.get(field)
    return field, guru_key + message[len(field) :] if guru_key and message.startswith(field) else message


def _card_input(guru: _Object) -> tuple[dict[str, object], dict[str, str]]:
    """Card input from a Guru object, and problems with its shape keyed by Card field.

    A missing value is left out of the input so that validation reports it as required.
    """
    raw: dict[str, object] = {"language": None, "internal_only": False, "groups": ()}
    problems: dict[str, str] = {}
    for field, key in (("id", "id"), ("title", "preferredPhrase"), ("verify_interval_days", "verificationInterval")):
        if guru.get(key) is not None:
            raw[field] = guru[key]
    content = guru.get("content")
    if isinstance(content, str):
        raw["body"] = html_to_markdown(content)
        if not raw["body"]:
            problems["body"] = "content: has no text once the HTML is converted"
    elif content is not None:
        raw["body"] = content  # validation names the wrong type

    raw["collection"] = _member(guru, "collection", "name", problems, "collection") or DEFAULT_COLLECTION
    owner = _member(guru, "owner", "email", problems, "owner")
    if owner is not None:
        raw["owner"] = owner
    verifier = _first_verifier(guru.get("verifiers"), problems)
    if verifier is not None:
        raw["verifier"] = verifier

    state = guru.get("verificationState")
    if state is None:
        problems["state"] = "verificationState: is required"
    elif not isinstance(state, str) or state not in STATES:
        problems["state"] = f"verificationState: unknown value {state!r}; expected TRUSTED or NEEDS_VERIFICATION"
    else:
        raw["state"] = STATES[state]
        if STATES[state] is CardState.VERIFIED:
            raw["verified_at"] = guru.get("lastVerified")
            raw["next_verification_at"] = guru.get("nextVerificationDate")

    slug = guru.get("slug")
    if isinstance(slug, str) and slug.strip():
        raw["url"] = GURU_CARD_URL + quote(slug.strip(), safe="/-._~")
    elif slug is not None and not isinstance(slug, str):
        problems["url"] = "slug: expected text"

    tags = _tags(guru, problems)
    if tags is not None:
        raw["tags"] = tags
    return raw, problems


def _member(guru: _Object, key: str, member: str, problems: dict[str, str], field: str) -> str | None:
    """`guru[key][member]` when it is text; None when absent; a problem when the shape is wrong."""
    value = guru.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        problems[field] = f"{key}: expected an object with {member!r}"
        return None
    text = value.get(member)
    if text is None:
        return None
    if not isinstance(text, str):
        problems[field] = f"{key}.{member}: expected text"
        return None
    return text.strip() or None


def _first_verifier(verifiers: object, problems: dict[str, str]) -> str | None:
    """The first verifier: a user's email, or `group:<name>` for a user group."""
    if verifiers is None:
        return None
    if not isinstance(verifiers, list):
        problems["verifier"] = "verifiers: expected a list"
        return None
    if not verifiers:
        return None
    first = verifiers[0]
    kind = first.get("type") if isinstance(first, dict) else None
    if isinstance(first, dict) and kind == "user":
        user = first.get("user")
        email = user.get("email") if isinstance(user, dict) else None
        if isinstance(email, str) and email.strip():
            return email.strip()
        problems["verifier"] = "verifiers[0]: a user verifier needs user.email"
    elif isinstance(first, dict) and kind == "user-group":
        group = first.get("userGroup")
        name = group.get("name") if isinstance(group, dict) else None
        if isinstance(name, str) and name.strip():
            return f"group:{name.strip()}"
        problems["verifier"] = "verifiers[0]: a user-group verifier needs userGroup.name"
    else:
        problems["verifier"] = f"verifiers[0]: unknown verifier type {kind!r}; expected user or user-group"
    return None


def _tags(guru: _Object, problems: dict[str, str]) -> list[str] | None:
    """Tag values, then board titles as `board:<title>`, without repeats."""
    found: list[str] = []
    for key, member, prefix in (("tags", "value", ""), ("boards", "title", "board:")):
        entries = guru.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            problems["tags"] = f"{key}: expected a list"
            return None
        for number, entry in enumerate(entries):
            text = entry.get(member) if isinstance(entry, dict) else None
            if not isinstance(text, str):
                problems["tags"] = f"{key}[{number}]: expected an object with {member!r} text"
                return None
            if text.strip() and prefix + text.strip() not in found:
                found.append(prefix + text.strip())
    return found


def html_to_markdown(html: str) -> str:
    """Guru card HTML -> readable Markdown: lists, tables, links and ATX headings kept; scripts,
    styles and inline (data:) images dropped, non-breaking spaces made plain, 3+ newlines collapsed."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup.find_all(["script", "style", "noscript", "template"]):
        element.decompose()
    for image in soup.find_all("img"):
        if not isinstance(image, Tag):
            continue
        src = image.get("src")
        if not (isinstance(src, str) and src.startswith(("http://", "https://"))):
            alt = image.get("alt")
            image.replace_with(alt if isinstance(alt, str) else "")
    converter = MarkdownConverter(
        heading_style=ATX,
        bullets="-",
        escape_asterisks=False,
        escape_underscores=False,
        table_infer_header=True,
        strip_document=STRIP,
    )
    text = converter.convert_soup(soup).replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip()
