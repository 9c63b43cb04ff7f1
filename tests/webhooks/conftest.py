"""Helpers for the webhook tests: keys, subscriptions, a worker over the test transaction."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.access import service as access
from app.access.service import KeyInfo, info_of
from app.core.config import Settings
from app.models import Category, WebhookDelivery, WebhookSubscription
from app.webhooks import service
from app.webhooks.schemas import WebhookCreate
from app.webhooks.secrets import SecretBox, secret_box
from app.webhooks.ssrf import Policy
from app.webhooks.worker import Worker
from tests.conftest import BASE_URL
from tests.webhooks.receiver import Receiver, running_receiver

ALL_EVENTS = ["published", "updated", "unpublished", "retracted", "deleted", "corrected"]
PRIVATE_OK = Policy(allow_private=True)
_names = iter(range(1, 10**9))

CLEAR = secret_box(())  # no BYLINE_SECRET_KEYS: secrets stored as they are


async def new_key(
    session: AsyncSession, *scopes: str, categories: list[str] | None = None
) -> tuple[KeyInfo, str]:
    """A key with these scopes: what requests know of it, and its secret."""
    key, secret = await access.create(
        session, name=f"whk-key-{next(_names)}", scopes=list(scopes), categories=categories,
        rate_limit=None, now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    return info_of(key), secret


async def add_categories(session: AsyncSession, *slugs: str) -> None:
    """Categories a subscription may name before any article is in them."""
    session.add_all(Category(slug=slug, name=slug.capitalize()) for slug in slugs)
    await session.flush()


async def subscribe(
    session: AsyncSession, owner: KeyInfo, *, url: str = "http://127.0.0.1:9/hook",
    events: list[str] | None = None, categories: list[str] | None = None,
    box: SecretBox = CLEAR,
) -> tuple[WebhookSubscription, str]:  # fmt: skip
    """A subscription owned by `owner` (made as an admin would, so any URL on this host)."""
    admin = KeyInfo("admin", "admin", frozenset({"admin"}), None, None)
    data = WebhookCreate(
        url=url, events=events or ALL_EVENTS, categories=categories, key_id=owner.id
    )
    return await service.create(
        session, admin, data, policy=PRIVATE_OK, box=box, now=dt.datetime.now(dt.UTC)
    )


async def deliveries(session: AsyncSession, subscription_id: str) -> list[WebhookDelivery]:
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


def worker_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "sqlite:///unused.db", "public_base_url": BASE_URL,
        "webhook_allow_private_targets": True, "webhook_backoff_base_seconds": 0.01,
        "webhook_backoff_max_seconds": 0.02, "webhook_timeout_seconds": 2.0,
        "webhook_lease_seconds": 30.0, "webhook_concurrency": 8,
    }  # fmt: skip
    values.update(overrides)
    return Settings(**values)


def make_worker(sessions: async_sessionmaker[AsyncSession], **overrides: Any) -> Worker:
    """A worker over the test's transaction (reads and writes through the same connection)."""
    return Worker(worker_settings(**overrides), sessions, sessions, rng=random.Random(7))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running
