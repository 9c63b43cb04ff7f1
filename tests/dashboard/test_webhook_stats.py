"""GET /v1/stats/webhooks: every subscription's health, counted from the outbox; scope `stats`."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from app.models import WebhookDelivery, WebhookSubscription
from tests.access.test_keys import auth
from tests.webhooks.conftest import new_key, subscribe

PATH = "/v1/stats/webhooks"
_seq = iter(range(1, 10**9))


def delivery(
    subscription_id: str, state: str, finished_ago: dt.timedelta | None
) -> WebhookDelivery:
    now = dt.datetime.now(dt.UTC)
    return WebhookDelivery(
        subscription_id=subscription_id, seq=next(_seq), event="published", article_id="art_x",
        revision=1, at=now, article=None, state=state, attempts=1, next_attempt_at=now,
        claim=None, created_at=now - dt.timedelta(days=2),
        finished_at=None if finished_ago is None else now - finished_ago,
    )  # fmt: skip


HOUR = dt.timedelta(hours=1)


async def test_counts_pending_and_the_last_24_hours_per_subscription(client, session):
    owner, _ = await new_key(session, "syndicate")
    busy, _ = await subscribe(session, owner, url="http://127.0.0.1:9/busy")
    quiet, _ = await subscribe(session, owner, url="http://127.0.0.1:9/quiet")
    session.add_all(
        [delivery(busy.id, "pending", None) for _ in range(2)]
        + [delivery(busy.id, "delivered", HOUR) for _ in range(3)]
        + [delivery(busy.id, "delivered", 25 * HOUR)]  # too old to count
        + [delivery(busy.id, "failed", 23 * HOUR), delivery(busy.id, "failed", 30 * HOUR)]
        + [delivery(busy.id, "cancelled", HOUR)]  # neither delivered nor failed
        + [delivery(quiet.id, "delivered", 49 * HOUR)]
    )
    failing_since = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == busy.id)
        .values(status="failing", failing_since=failing_since)
    )
    await session.flush()
    _, stats = await new_key(session, "stats")

    response = await client.get(PATH, headers=auth(stats))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-store"
    rows = {row["id"]: row for row in response.json()["data"]}
    assert rows[busy.id] == {
        "id": busy.id, "url": "http://127.0.0.1:9/busy", "status": "failing",
        "failing_since": "2026-01-02T03:04:05Z", "last_success_at": None,
        "pending": 2, "delivered_24h": 3, "failed_24h": 1,
    }  # fmt: skip
    assert rows[quiet.id]["status"] == "active"
    assert (rows[quiet.id]["pending"], rows[quiet.id]["delivered_24h"]) == (0, 0)
    assert rows[quiet.id]["failed_24h"] == 0


async def test_lists_every_subscription_whoever_owns_it_oldest_first(client, session):
    first_owner, _ = await new_key(session, "syndicate")
    second_owner, _ = await new_key(session, "read", "syndicate")
    first, _ = await subscribe(session, first_owner)
    second, _ = await subscribe(session, second_owner)
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == first.id)
        .values(created_at=dt.datetime.now(dt.UTC) - HOUR)
    )
    await session.flush()
    _, stats = await new_key(session, "stats")

    body = (await client.get(PATH, headers=auth(stats))).json()

    ids = [row["id"] for row in body["data"]]
    assert ids.index(first.id) < ids.index(second.id)
    assert "secret" not in str(body)


async def test_no_subscriptions_is_an_empty_list(client, session):
    _, stats = await new_key(session, "stats")
    response = await client.get(PATH, headers=auth(stats))
    assert response.status_code == 200
    assert response.json() == {"data": []}


async def test_no_key_is_401(client):
    response = await client.get(PATH)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("scopes", [("admin",), ("read", "syndicate", "write")])
async def test_keys_without_stats_are_403(client, session, scopes):
    _, secret = await new_key(session, *scopes)
    response = await client.get(PATH, headers=auth(secret))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
