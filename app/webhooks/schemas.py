"""Schemas of the webhook endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.text import Plain

Event = Literal["published", "updated", "unpublished", "retracted", "deleted", "corrected"]
Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=120),
]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), Plain
    ]
    events: Annotated[list[Event], Field(min_length=1, max_length=6)]
    categories: Annotated[list[Slug], Field(min_length=1, max_length=200)] | None = None
    key_id: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
        Plain,
        Field(description="Admin keys only: the key that owns the subscription (default: the caller)."),
    ] | None = None  # fmt: skip


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    events: list[str]
    categories: list[str] | None
    key_id: str
    status: Literal["active", "failing", "disabled"]
    created_at: dt.datetime
    failing_since: dt.datetime | None
    last_success_at: dt.datetime | None
    previous_secret_expires_at: Annotated[
        dt.datetime | None,
        Field(description="After a rotation: until when the replaced secret also signs."),
    ] = None


class WebhookCreated(WebhookRead):
    """A subscription with its new signing secret (on creation or rotation): shown once."""

    secret: str


MAX_OVERLAP_SECONDS = 7 * 86400


class WebhookRotate(BaseModel):
    """How long the secret being replaced keeps signing beside the new one."""

    model_config = ConfigDict(extra="forbid")

    overlap_seconds: Annotated[
        int,
        Field(
            ge=0, le=MAX_OVERLAP_SECONDS,
            description="Seconds the old secret also signs deliveries (0: stop at once).",
        ),
    ] = 86400  # fmt: skip


class WebhookList(BaseModel):
    data: list[WebhookRead]


class DeliveryAttemptRead(BaseModel):
    """One HTTP attempt of one delivery (an event for this subscription)."""

    id: int
    message_id: str  # the webhook-id header: the same on every attempt of a delivery
    seq: int
    event: str
    article_id: str
    revision: int
    attempt: int
    at: dt.datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    delivery_state: Literal["pending", "delivered", "failed", "cancelled"]


class PageMeta(BaseModel):
    limit: int
    next_cursor: str | None


class DeliveryAttemptList(BaseModel):
    data: list[DeliveryAttemptRead]
    meta: PageMeta
