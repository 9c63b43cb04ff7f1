"""The outbox: deliveries written in the event's own transaction, claimed and settled by workers.

One row per (event, matching subscription) is written at once, beside the change-log row:
the filters (events, categories, the owning key's limits and scopes, syndication rights,
embargo) are decided with the article in hand, the row then carries the article exactly
as that subscriber may see it, and the row is the unit the worker claims, retries and logs.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.service import KeyInfo
from app.articles.readmodel import ArticleView, full_face, summary_face, tombstone_face
from app.changes.service import Entry, Reader, presented
from app.core.config import Settings
from app.core.db import table_of
from app.models import (
    ApiKey,
    ChangeEvent,
    DeliveryState,
    SubscriptionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

# The events a subscription can ask for: the change feed's names ("created" is a draft's birth).
EVENTS = ("published", "updated", "unpublished", "retracted", "deleted", "corrected")
TOMBSTONE_EVENTS = frozenset({"retracted", "deleted"})
# Events that take an article out of a subscriber's view (as the change feed names them).
WITHDRAWALS = frozenset({"unpublished", "retracted", "deleted"})
ERROR_MAX = 500


@dataclass(frozen=True, slots=True)
class Audience:
    """A live subscription with the key that owns it."""

    subscription_id: str
    events: frozenset[str]
    categories: frozenset[str] | None
    owner: KeyInfo

    @property
    def reader(self) -> Reader:
        """The change feed's reader for this subscription: its owner, within its categories."""
        reader = Reader.of(self.owner)
        if self.categories is None:
            return reader
        allowed = self.categories
        if reader.categories is not None:
            allowed = allowed & frozenset(reader.categories)
        return Reader(reader.editor, tuple(sorted(allowed)))


def article_for(audience: Audience, view: ArticleView, event: str, at: dt.datetime) -> object:
    """What this subscriber receives as `data.article` for an event named from its side.

    The tombstone for retracted/deleted, None for unpublished (take it down), else the
    full article for `write` and `syndicate` keys and the summary for others.
    """
    if event in TOMBSTONE_EVENTS:
        return tombstone_face(view)
    if event == ChangeEvent.UNPUBLISHED:
        return None
    # URLs relative to the public base URL; the worker makes them absolute when it sends.
    if audience.owner.scopes & {"write", "syndicate"}:
        return full_face(view, "", at)
    return summary_face(view, "")


async def audiences(session: AsyncSession) -> list[Audience]:
    rows = await session.execute(
        select(
            WebhookSubscription.id, WebhookSubscription.events, WebhookSubscription.categories,
            ApiKey.id, ApiKey.name, ApiKey.scopes, ApiKey.categories,
        )
        .join(ApiKey, ApiKey.id == WebhookSubscription.key_id)
        .where(
            ApiKey.revoked_at.is_(None),
            WebhookSubscription.status != SubscriptionStatus.DISABLED.value,
        )
    )  # fmt: skip
    return [
        Audience(
            sub_id,
            frozenset(events),
            frozenset(categories) if categories else None,
            KeyInfo(key_id, name, frozenset(scopes), tuple(key_cats) if key_cats else None, None),
        )  # fmt: skip
        for sub_id, events, categories, key_id, name, scopes, key_cats in rows
    ]


async def enqueue(session: AsyncSession, view: ArticleView, entry: Entry) -> int:
    """Write one delivery per subscription that gets this change; returns how many.

    Each subscriber gets the change under the name the change feed gives it
    (app/changes/service.py `presented`): partners never hear of drafts, embargoed or
    non-syndicated articles, and an article leaving their view arrives as `unpublished`
    (or `retracted`/`deleted`), so a copy kept from webhooks is never left behind.
    """
    rows: list[dict[str, Any]] = []
    created = dt.datetime.now(dt.UTC)
    left: list[str] = []  # subscriptions whose view the article has just left
    for audience in await audiences(session):
        event = presented(entry, audience.reader)
        if event in WITHDRAWALS:
            left.append(audience.subscription_id)
        if event is None or event not in audience.events:
            continue
        rows.append(
            {
                "subscription_id": audience.subscription_id,
                "seq": entry.seq,
                "event": event,
                "article_id": view.id,
                "revision": view.revision,
                "at": entry.at,
                "article": article_for(audience, view, event, entry.at),
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": entry.at,
                "claim": None,
                "created_at": created,
                "finished_at": None,
            }
        )
    if left:
        await _cancel_withdrawn(session, view.id, entry.seq, left, created)
    if rows:
        await session.execute(insert(WebhookDelivery), rows)
    return len(rows)


async def _cancel_withdrawn(
    session: AsyncSession, article_id: str, seq: int, subscriptions: list[str], now: dt.datetime
) -> None:
    """Cancel the article's earlier deliveries still waiting for these subscriptions.

    Each row carries the article as it was; a retry of one after the article was deleted,
    retracted, unpublished or withdrawn from syndication would send text the subscriber
    may no longer have (API.md 5). Whether or not it asked for the withdrawing event.
    """
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id.in_(subscriptions),
            WebhookDelivery.article_id == article_id,
            WebhookDelivery.state == DeliveryState.PENDING,
            WebhookDelivery.seq < seq,
        )
        .values(state=DeliveryState.CANCELLED.value, finished_at=now, claim=None)
        .execution_options(synchronize_session=False)
    )


# ---- claiming and settling (the worker)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker holds until `next_attempt_at` (its lease)."""

    id: int
    subscription_id: str
    seq: int
    event: str
    article_id: str
    revision: int
    at: dt.datetime
    article: dict[str, Any] | None
    attempts: int  # made before this one
    claim: str

    @property
    def message_id(self) -> str:
        """The Standard Webhooks `webhook-id`: the same on every attempt, so receivers can dedupe."""
        return f"msg_{self.id}"


CLAIMED_COLUMNS = (
    WebhookDelivery.id, WebhookDelivery.subscription_id, WebhookDelivery.seq,
    WebhookDelivery.event, WebhookDelivery.article_id, WebhookDelivery.revision,
    WebhookDelivery.at, WebhookDelivery.article, WebhookDelivery.attempts,
)  # fmt: skip


async def claim(
    session: AsyncSession, *, token: str, now: dt.datetime, lease: float, limit: int
) -> list[Claimed]:
    """Take up to `limit` due deliveries for `lease` seconds, oldest first.

    One conditional UPDATE: on PostgreSQL its row choice skips rows other workers hold
    (FOR UPDATE SKIP LOCKED); on SQLite the write lock serialises claims, and the
    re-checked `next_attempt_at <= now` makes a row claimable by one worker at a time.
    """
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == DeliveryState.PENDING, WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )  # fmt: skip
    chosen = due.cte("due")
    if session.get_bind().dialect.name == "postgresql":
        # Locked once, in a CTE: a sub-select re-run per row would skip the rows this very
        # UPDATE had just changed and go on to claim past the limit.
        chosen = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
    statement = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(select(chosen.c.id)),
            WebhookDelivery.state == DeliveryState.PENDING,
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + dt.timedelta(seconds=lease), claim=token)
        .returning(*CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    rows = await session.execute(statement)
    claimed = [
        Claimed(
            id=r.id,
            subscription_id=r.subscription_id,
            seq=r.seq,
            event=r.event,
            article_id=r.article_id,
            revision=r.revision,
            at=r.at,
            article=r.article,
            attempts=r.attempts,
            claim=token,
        )
        for r in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt did; `cancelled` means it was not made (the owner's key is revoked)."""

    delivery: Claimed
    started: dt.datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff(attempt: int, settings: Settings, rng: random.Random) -> float:
    """Seconds before retry `attempt` + 1: exponential, capped, with "equal jitter"."""
    ceiling: float = min(
        settings.webhook_backoff_max_seconds,
        settings.webhook_backoff_base_seconds * 2.0 ** min(attempt - 1, 60),
    )
    return ceiling / 2 + rng.random() * ceiling / 2


DELIVERY_TABLE = table_of(WebhookDelivery)
SETTLE = (
    update(DELIVERY_TABLE)
    .where(
        DELIVERY_TABLE.c.id == bindparam("b_id"),
        DELIVERY_TABLE.c.claim == bindparam("b_claim"),
    )
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next"),
        finished_at=bindparam("b_finished"),
        claim=None,
    )
)


def _settlement(
    outcome: Outcome, now: dt.datetime, settings: Settings, rng: random.Random
) -> dict[str, Any]:
    claimed = outcome.delivery
    number = claimed.attempts + (0 if outcome.cancelled else 1)
    if outcome.cancelled:
        state, next_at = DeliveryState.CANCELLED, now
    elif outcome.ok:
        state, next_at = DeliveryState.DELIVERED, now
    elif number >= settings.webhook_max_attempts:
        state, next_at = DeliveryState.FAILED, now
    else:
        delay = backoff(number, settings, rng)
        state, next_at = DeliveryState.PENDING, now + dt.timedelta(seconds=delay)
    finished = None if state == DeliveryState.PENDING else now
    return {
        "b_id": claimed.id, "b_claim": claimed.claim, "b_state": state.value,
        "b_attempts": number, "b_next": next_at, "b_finished": finished,
    }  # fmt: skip


async def settle(
    session: AsyncSession, outcomes: Sequence[Outcome], *, now: dt.datetime, settings: Settings,
    rng: random.Random,
) -> None:  # fmt: skip
    """Log the attempts and move each delivery on: delivered, retried later, or given up.

    A delivery whose claim has passed to another worker (this one's lease ran out) keeps
    the other worker's state; its attempt is still logged, because it happened.
    """
    # A subscription deleted meanwhile took its deliveries with it; lock the rest until the
    # end of this transaction, so a concurrent delete waits instead of breaking the insert.
    ids = [o.delivery.id for o in outcomes]
    alive = set(
        await session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.id.in_(ids)).with_for_update()
        )
    )
    outcomes = [o for o in outcomes if o.delivery.id in alive]
    if not outcomes:
        return
    made = [o for o in outcomes if not o.cancelled]
    if made:
        await session.execute(
            insert(WebhookAttempt),
            [
                {
                    "delivery_id": o.delivery.id,
                    "subscription_id": o.delivery.subscription_id,
                    "number": o.delivery.attempts + 1,
                    "at": o.started,
                    "duration_ms": o.duration_ms,
                    "status_code": o.status_code,
                    "error": o.error[:ERROR_MAX] if o.error else None,
                }
                for o in made
            ],
        )
    settlements = [_settlement(o, now, settings, rng) for o in outcomes]
    await session.execute(SETTLE, settlements)
    await _mark_subscriptions(session, made, settlements, now)
    gave_up = {
        o.delivery.subscription_id
        for o, s in zip(outcomes, settlements, strict=True)
        if s["b_state"] == DeliveryState.FAILED
    }
    if gave_up and settings.webhook_disable_after_days > 0:
        failing_since = now - dt.timedelta(days=settings.webhook_disable_after_days)
        await _disable_failing(session, gave_up, failing_since, now)


async def _mark_subscriptions(
    session: AsyncSession, made: Sequence[Outcome], settlements: list[dict[str, Any]],
    now: dt.datetime,
) -> None:  # fmt: skip
    """A success makes a subscription active again; running out of attempts marks it failing."""
    gave_up = {s["b_id"] for s in settlements if s["b_state"] == DeliveryState.FAILED}
    latest: dict[str, bool] = {}
    for outcome in sorted(made, key=lambda o: o.started):
        if outcome.ok:
            latest[outcome.delivery.subscription_id] = True
        elif outcome.delivery.id in gave_up:
            latest[outcome.delivery.subscription_id] = False
    healthy = [sub for sub, ok in latest.items() if ok]
    failing = [sub for sub, ok in latest.items() if not ok]
    subs = WebhookSubscription
    if healthy:
        await session.execute(
            update(subs)
            .where(subs.id.in_(healthy))
            .values(status=SubscriptionStatus.ACTIVE.value, failing_since=None, last_success_at=now)
            .execution_options(synchronize_session=False)
        )
    if failing:
        await session.execute(
            update(subs)
            .where(subs.id.in_(failing), subs.status == SubscriptionStatus.ACTIVE)
            .values(status=SubscriptionStatus.FAILING.value, failing_since=now)
            .execution_options(synchronize_session=False)
        )


async def _disable_failing(
    session: AsyncSession, subscription_ids: set[str], failing_since: dt.datetime,
    now: dt.datetime,
) -> None:  # fmt: skip
    """Disable those of these subscriptions failing since `failing_since` or earlier, and
    cancel what they still had queued: a receiver gone for days is not retried forever."""
    subs = WebhookSubscription
    disabled = list(
        await session.scalars(
            update(subs)
            .where(
                subs.id.in_(subscription_ids),
                subs.status == SubscriptionStatus.FAILING.value,
                subs.failing_since <= failing_since,
            )
            .values(status=SubscriptionStatus.DISABLED.value)
            .returning(subs.id)
            .execution_options(synchronize_session=False)
        )
    )
    if disabled:
        # Rows another worker holds are skipped, not waited for (two workers disabling the
        # same subscription could otherwise deadlock): the worker drops them when they come
        # up, as it does for any delivery of a disabled subscription (worker.targets).
        queued = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.subscription_id.in_(disabled),
                WebhookDelivery.state == DeliveryState.PENDING.value,
            )
            .with_for_update(skip_locked=True)
        )
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(queued))
            .values(state=DeliveryState.CANCELLED.value, finished_at=now, claim=None)
            .execution_options(synchronize_session=False)
        )


async def purge(session: AsyncSession, before: dt.datetime) -> None:
    """Forget finished deliveries (and their attempts) older than the retention period."""
    await session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.state != DeliveryState.PENDING, WebhookDelivery.finished_at < before)
        .execution_options(synchronize_session=False)
    )
