"""The Card: the unit of knowledge, validated at every boundary it crosses."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
GROUP_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
MAX_TITLE_CHARS = 300
MAX_BODY_CHARS = 100_000

GroupName = Annotated[StrictStr, Field(pattern=GROUP_PATTERN)]


class CardState(StrEnum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"


def parse_instant(value: object) -> datetime:
    """ISO 8601 text, a datetime or a date -> an aware UTC datetime (naive values are read as UTC)."""
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, date):
        instant = datetime.combine(value, time(0, 0))
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 date or date-time: {value!r}") from None
    else:
        raise ValueError(f"expected an ISO 8601 date-time, got {type(value).__name__}")
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def _json_integer(value: Any) -> Any:
    """An integer as JSON Schema's `integer` means it: 30 or 30.0, never "30" or true."""
    if isinstance(value, bool | str):
        raise ValueError("expected an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# after the Field in an Annotated (a BeforeValidator first hides the Field's bounds from the JSON Schema)
JSON_INTEGER = BeforeValidator(_json_integer)
NOT_BLANK = r"\S"  # what the schema says of text that is stripped and must not be empty
# `_verification_facts` in JSON Schema, so that the OpenAPI document says what a PUT accepts
VERIFIED_NEEDS: dict[str, Any] = {
    "if": {"properties": {"state": {"const": "verified"}}, "required": ["state"]},
    "then": {
        "required": ["verified_at", "verifier"],
        "properties": {"verified_at": {"type": "string"}, "verifier": {"type": "string", "pattern": NOT_BLANK}},
    },
}


class Card(BaseModel):
    """A card as Verity stores it. Unknown keys are refused so that typos do not pass silently."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, json_schema_extra={"allOf": [VERIFIED_NEEDS]}
    )

    id: Annotated[StrictStr, Field(pattern=ID_PATTERN)]
    title: Annotated[StrictStr, Field(min_length=1, max_length=MAX_TITLE_CHARS, pattern=NOT_BLANK)]
    body: Annotated[StrictStr, Field(min_length=1, max_length=MAX_BODY_CHARS, pattern=NOT_BLANK)]
    collection: Annotated[StrictStr, Field(min_length=1, max_length=100, pattern=NOT_BLANK)] = "general"
    groups: tuple[GroupName, ...] = ()
    owner: StrictStr | None = None
    verifier: StrictStr | None = None
    state: CardState
    verified_at: datetime | None = None
    verify_interval_days: Annotated[int, Field(gt=0, le=36_500), JSON_INTEGER] | None = None
    next_verification_at: datetime | None = None  # when a source states the due date itself (Guru)
    url: Annotated[StrictStr, Field(pattern=r"^(https?://\S+)?$")] | None = None
    tags: tuple[StrictStr, ...] = ()
    language: Annotated[StrictStr, Field(pattern=LANGUAGE_PATTERN)] | None = None
    internal_only: StrictBool = False

    @field_validator("verified_at", "next_verification_at", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> datetime | None:
        if value is None or value == "":
            return None
        return parse_instant(value)

    @field_validator("groups", "tags", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            raise ValueError("expected a list, e.g. [finance], not a single string")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_text(cls, value: Any) -> Any:
        """YAML reads `tags: [api, 429]` as a number; a tag is a label, so numbers become text."""
        if isinstance(value, list | tuple):
            return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
        return value

    @field_validator("groups")
    @classmethod
    def _unique_groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(value)))

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://\S+$", value):
            raise ValueError("url must start with http:// or https:// and contain no spaces")
        return value or None

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) and value.strip() else None

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("body is empty")
        return value

    @model_validator(mode="after")
    def _verification_facts(self) -> Card:
        if self.state is CardState.VERIFIED:
            if self.verified_at is None:
                raise ValueError("a verified card needs verified_at")
            if not self.verifier:
                raise ValueError("a verified card needs a verifier")
        return self

    @property
    def verified_until(self) -> datetime | None:
        """End of trust; None when the card never expires (or was never verified)."""
        if self.verified_at is None:
            return None
        if self.next_verification_at is not None:
            return self.next_verification_at
        if self.verify_interval_days is None:
            return None
        return self.verified_at + timedelta(days=self.verify_interval_days)
