"""Webhooks: subscriptions, the outbox of deliveries (one row per event and subscription), attempts."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.models.article import Article
from app.models.types import BigIntKey, JSONType

SECRET_LENGTH = 400  # a Fernet token of a 50-character secret is 164 characters


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    FAILING = "failing"  # a delivery ran out of attempts; the next success clears it
    # Failing for BYLINE_WEBHOOK_DISABLE_AFTER_DAYS: nothing more is queued or sent until
    # the owner enables it again (POST /v1/webhooks/{id}/enable).
    DISABLED = "disabled"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed
    # The owning key was revoked or the subscription disabled first, or the article has
    # since left the subscriber's view (app/webhooks/outbox.py).
    CANCELLED = "cancelled"


def _values(kind: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in kind)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(SubscriptionStatus)})", name="status"),
        Index("ix_webhook_subscriptions_key_id", "key_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType)
    categories: Mapped[list[str] | None] = mapped_column(JSONType)
    # Signing needs the secret itself (HMAC), not a hash of it: kept encrypted when
    # BYLINE_SECRET_KEYS is set (`fernet:<token>`, app/webhooks/secrets.py), else as given.
    secret: Mapped[str] = mapped_column(String(SECRET_LENGTH))
    # After a rotation, the secret it replaced keeps signing (beside the new one) until
    # this time, so the receiver can switch secrets without rejecting a delivery.
    previous_secret: Mapped[str | None] = mapped_column(String(SECRET_LENGTH))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=SubscriptionStatus.ACTIVE.value)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One event for one subscription: written in the event's transaction, sent by the worker.

    `next_attempt_at` doubles as the lease: a worker that claims a row pushes it out by the
    lease time, so a row whose worker died becomes due again by itself. `claim` names the
    claim, so a worker whose lease ran out cannot overwrite the result of the next one.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(DeliveryState)})", name="state"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription_id", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigIntKey)  # the change-log event (no foreign key: see Change)
    event: Mapped[str] = mapped_column(String(16))
    article_id: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The article as this subscriber may see it at the event, with URLs relative to the
    # public base URL (made absolute when sent); null when the event carries no article.
    article: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_subscription_id_id", "subscription_id", "id"),
        Index("ix_webhook_attempts_delivery_id", "delivery_id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))


# The worker looks for scheduled articles whose embargo has passed several times a second;
# this index answers it (declared here, with its query). Partial, on scheduled rows only: a
# full (status, embargo_until) index led SQLite's planner to serve lists and search from it
# (migration f95e3b0a6c43).
Index(
    "ix_articles_scheduled_embargo_until",
    Article.embargo_until,
    sqlite_where=Article.status == "scheduled",
    postgresql_where=Article.status == "scheduled",
)
