"""The grammar of VERITY_READ_KEYS and VERITY_WRITE_KEYS: each key with the groups it reads or writes."""

from __future__ import annotations

import re

from rag.domain.cards import GROUP_PATTERN


def parse_read_keys(value: str, setting: str = "VERITY_READ_KEYS") -> dict[str, frozenset[str]]:
    """`KEY:group1,group2;KEY2:` -> {KEY: {group1, group2}, KEY2: {}}. Errors name the entry by its position,
    never by its text: the text is a secret."""
    keys: dict[str, frozenset[str]] = {}
    for position, entry in enumerate((e.strip() for e in value.split(";")), start=1):
        if not entry:
            continue  # a trailing or doubled ';'
        where = f"{setting} entry {position}"
        key, colon, groups = entry.partition(":")
        key = key.strip()
        if not colon:
            raise ValueError(f"{where} has no ':'; write KEY:group1,group2 (or KEY: for no groups)")
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"{where}: the key is empty or holds whitespace")
        if key in keys:
            raise ValueError(f"{where} repeats an earlier key")
        names = [g.strip() for g in groups.split(",") if g.strip()]
        bad = [g for g in names if not re.fullmatch(GROUP_PATTERN, g)]
        if bad:
            raise ValueError(f"{where}: {bad[0]!r} is not a group name (lower-case letters, digits, '.', '_', '-')")
        keys[key] = frozenset(names)
    return keys


def parse_write_keys(value: str) -> dict[str, frozenset[str] | None]:
    """Write keys in the form of read keys, `KEY:group1,group2;KEY2:`; or, without any ':', the older
    comma-separated form `KEY,KEY2`, whose keys write every card (None). Errors never quote the value."""
    if ":" not in value:
        if ";" in value:
            raise ValueError(
                "VERITY_WRITE_KEYS has ';' but no ':'; write KEY:group1,group2;KEY2: (KEY: for no groups), "
                "or KEY,KEY2 for keys that write every card"
            )
        return {key.strip(): None for key in value.split(",") if key.strip()}
    for position, entry in enumerate(value.split(";"), start=1):
        if "," in entry.partition(":")[0]:  # `OLD,NEW:finance`: an old-form list with one new entry
            raise ValueError(
                f"VERITY_WRITE_KEYS entry {position}: the key holds ','; once any key has ':', separate keys with "
                "';' and give each its groups (KEY: for none)"
            )
    return dict(parse_read_keys(value, "VERITY_WRITE_KEYS"))
