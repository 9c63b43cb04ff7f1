"""Subscriptions: made by admin keys (for any key) or partner keys (for themselves), and their log."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.service import KeyInfo, info_of
from app.core.errors import Forbidden, InvalidInput, NotFound, invalid_param
from app.models import (
    ApiKey,
    SubscriptionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from app.webhooks.outbox import EVENTS
from app.webhooks.schemas import WebhookCreate
from app.webhooks.secrets import SecretBox, SecretUnavailable
from app.webhooks.ssrf import Policy, Resolver, UnsafeTarget, check_target, system_resolver

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MANAGING_SCOPES = frozenset({"admin", "syndicate"})


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def caller_refusal(caller: KeyInfo) -> Forbidden | None:
    """The 403 for a key that may not manage subscriptions; None if it may."""
    if not caller.scopes & MANAGING_SCOPES:
        return Forbidden(f"The key {caller.name!r} needs the 'admin' or 'syndicate' scope.")
    return None


def check_caller(caller: KeyInfo) -> None:
    if (refused := caller_refusal(caller)) is not None:
        raise refused


async def _owner(session: AsyncSession, caller: KeyInfo, key_id: str | None) -> KeyInfo:
    """The key a new subscription belongs to: the caller, or (for admins) any live key."""
    if key_id is None or key_id == caller.id:
        return caller
    if "admin" not in caller.scopes:
        raise Forbidden("Only admin keys can make subscriptions for another key.")
    key = await session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise invalid_param("key_id", "is not the id of a live key", where="body")
    return info_of(key)


def _check_categories(owner: KeyInfo, categories: list[str] | None) -> list[str] | None:
    # A slug no article has used yet is allowed: categories come into being with their
    # first article, and a partner may subscribe to one before it has any.
    if categories is None:
        return None
    allowed = set(categories) if owner.categories is None else set(owner.categories)
    outside = sorted(set(categories) - allowed)
    if outside:
        raise invalid_param(
            "categories", f"outside the owning key's categories: {', '.join(outside)}", where="body"
        )
    return sorted(set(categories))


async def _checked_url(url: str, policy: Policy, resolve: Resolver) -> str:
    try:
        return await check_target(url, policy, resolve)
    except UnsafeTarget as exc:
        raise InvalidInput(
            f"url: {exc}", [{"loc": ["body", "url"], "msg": f"not an allowed target: {exc}"}]
        ) from None


async def create(
    session: AsyncSession, caller: KeyInfo, data: WebhookCreate, *, policy: Policy,
    box: SecretBox, now: dt.datetime, resolve: Resolver = system_resolver,
) -> tuple[WebhookSubscription, str]:  # fmt: skip
    """A new subscription; its signing secret is returned this once (and stored sealed)."""
    check_caller(caller)
    owner = await _owner(session, caller, data.key_id)
    categories = _check_categories(owner, data.categories)
    url = await _checked_url(data.url, policy, resolve)
    secret = new_secret()
    subscription = WebhookSubscription(
        id="whk_" + secrets.token_hex(8), key_id=owner.id, url=url,
        events=[event for event in EVENTS if event in data.events],
        categories=categories, secret=box.seal(secret), status=SubscriptionStatus.ACTIVE.value,
        created_at=now, failing_since=None, last_success_at=None,
    )  # fmt: skip
    session.add(subscription)
    await session.flush()
    return subscription, secret


def _visible(caller: KeyInfo) -> Select[WebhookSubscription]:
    query = select(WebhookSubscription)
    if "admin" not in caller.scopes:
        query = query.where(WebhookSubscription.key_id == caller.id)
    return query


async def list_subscriptions(session: AsyncSession, caller: KeyInfo) -> list[WebhookSubscription]:
    """Every subscription for admins; a partner's own otherwise."""
    check_caller(caller)
    query = _visible(caller).order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    return list(await session.scalars(query))


async def get(session: AsyncSession, caller: KeyInfo, subscription_id: str) -> WebhookSubscription:
    """One subscription the caller may see; someone else's is as unknown as a missing one."""
    check_caller(caller)
    found = await session.scalar(_visible(caller).where(WebhookSubscription.id == subscription_id))
    if found is None:
        raise NotFound(f"No webhook subscription {subscription_id!r}.")
    return found


async def rotate_secret(
    session: AsyncSession, caller: KeyInfo, subscription_id: str, *, overlap: dt.timedelta,
    box: SecretBox, now: dt.datetime,
) -> tuple[WebhookSubscription, str]:  # fmt: skip
    """Give the subscription a new secret; the old one also signs until `now + overlap`.

    Only the secret being replaced is kept: rotating again during an overlap ends the
    older secret's at once (the receiver was told about the newer one by then).
    """
    found = await get(session, caller, subscription_id)
    secret = new_secret()
    keep = overlap > dt.timedelta(0)
    found.previous_secret = found.secret if keep else None
    found.previous_secret_expires_at = now + overlap if keep else None
    found.secret = box.seal(secret)
    await session.flush()
    return found, secret


async def enable(
    session: AsyncSession, caller: KeyInfo, subscription_id: str
) -> WebhookSubscription:
    """Make a subscription active again (a no-op for an active one): events from now on
    are delivered; those of the time it was disabled are in the change feed."""
    found = await get(session, caller, subscription_id)
    if found.status != SubscriptionStatus.ACTIVE:
        found.status = SubscriptionStatus.ACTIVE.value
        found.failing_since = None
        await session.flush()
    return found


async def reseal_secrets(session: AsyncSession, box: SecretBox) -> int:
    """Store every subscription's secrets as `box` would now (encrypted with its first key);
    how many subscriptions there are. One that no key opens raises SecretUnavailable, and
    the caller's transaction then changes nothing."""
    subscriptions = list(await session.scalars(select(WebhookSubscription).with_for_update()))
    for found in subscriptions:
        try:
            found.secret = box.reseal(found.secret)
            if found.previous_secret is not None:
                found.previous_secret = box.reseal(found.previous_secret)
        except SecretUnavailable as exc:
            raise SecretUnavailable(f"subscription {found.id}: {exc}") from None
    await session.flush()
    return len(subscriptions)


async def delete_subscription(session: AsyncSession, caller: KeyInfo, subscription_id: str) -> None:
    """Delete a subscription with its pending deliveries and its log."""
    found = await get(session, caller, subscription_id)
    await session.execute(delete(WebhookSubscription).where(WebhookSubscription.id == found.id))


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: int
    delivery_id: int
    seq: int
    event: str
    article_id: str
    revision: int
    number: int
    at: dt.datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    delivery_state: str

    @property
    def message_id(self) -> str:
        return f"msg_{self.delivery_id}"


async def attempts(
    session: AsyncSession, caller: KeyInfo, subscription_id: str, *, limit: int,
    before: int | None,
) -> tuple[list[AttemptRow], int | None]:  # fmt: skip
    """The delivery log, newest attempt first, and the id to continue below (or None)."""
    found = await get(session, caller, subscription_id)
    a, d = WebhookAttempt, WebhookDelivery
    query = (
        select(
            a.id, a.delivery_id, d.seq, d.event, d.article_id, d.revision, a.number, a.at,
            a.duration_ms, a.status_code, a.error, d.state,
        )
        .join(d, d.id == a.delivery_id)
        .where(a.subscription_id == found.id)
        .order_by(a.id.desc())
        .limit(limit + 1)
    )  # fmt: skip
    if before is not None:
        query = query.where(a.id < before)
    rows = [
        AttemptRow(
            id=r.id,
            delivery_id=r.delivery_id,
            seq=r.seq,
            event=r.event,
            article_id=r.article_id,
            revision=r.revision,
            number=r.number,
            at=r.at,
            duration_ms=r.duration_ms,
            status_code=r.status_code,
            error=r.error,
            delivery_state=r.state,
        )
        for r in await session.execute(query)
    ]
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None
