"""Schemas of the key endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.text import Plain

KeyName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Plain
]
Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=120),
]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: KeyName
    scopes: Annotated[list[str], Field(min_length=1, max_length=5)]
    categories: Annotated[list[Slug], Field(max_length=200)] | None = None
    rate_limit: Annotated[str, StringConstraints(max_length=40)] | None = None


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    scopes: list[str]
    categories: list[str] | None
    rate_limit: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class KeyCreated(KeyRead):
    """The new key, with its secret: shown this once, never again."""

    key: str


class KeyList(BaseModel):
    data: list[KeyRead]


class KeyMe(BaseModel):
    id: str
    name: str
    scopes: list[str]
    categories: list[str] | None
    rate_limit: str | None
    usage_today: int
