"""The worker in-process against a real receiver: signed messages, retries, giving up, the log."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook, WebhookVerificationError

from app.access import service as access
from app.access.service import KeyInfo
from app.models import Change
from app.webhooks import service
from tests.access.test_keys import auth
from tests.conftest import BASE_URL, add_article
from tests.webhooks.conftest import CLEAR, deliveries, make_worker, new_key, subscribe


async def drain_until(worker, test, *, rounds: int = 100) -> None:
    """Run the worker until `test()` holds (retries wait out their short backoff)."""
    for _ in range(rounds):
        await worker.drain()
        if await test():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the worker did not get there")


async def test_signed_standard_webhook_with_the_change_event(
    client, session, settings, sessions, receiver
):
    owner, owner_secret = await new_key(session, "read", "syndicate")
    subscription, secret = await subscribe(session, owner, url=receiver.url("signed"))
    receiver.expect("signed", secret)
    view = await add_article(session, settings)
    seq = await session.scalar(select(func.max(Change.seq)))

    await make_worker(sessions).drain()

    [got] = receiver.on("signed")
    assert got.verified  # standardwebhooks.Webhook(secret).verify(body, headers) passed
    [row] = await deliveries(session, subscription.id)
    assert got.message_id == f"msg_{row.id}"
    assert got.headers["content-type"] == "application/json"
    sent_at = int(got.headers["webhook-timestamp"])
    assert abs(sent_at - dt.datetime.now(dt.UTC).timestamp()) < 60
    body = got.payload
    assert body["type"] == "article.published"
    assert body["data"]["seq"] == seq
    assert {k: body["data"][k] for k in ("event", "article_id", "revision")} == {
        "event": "published",
        "article_id": view.id,
        "revision": 1,
    }
    assert body["timestamp"] == body["data"]["at"]
    article = body["data"]["article"]
    assert article["url"] == f"{BASE_URL}/articles/{view.slug}"
    assert article["links"]["self"] == f"{BASE_URL}/v1/articles/{view.id}"
    assert article["sections"][0]["paragraphs"] == ["Opening paragraph."]
    assert (row.state, row.attempts) == ("delivered", 1)

    log = await client.get(f"/v1/webhooks/{subscription.id}/deliveries", headers=auth(owner_secret))
    [entry] = log.json()["data"]
    assert entry["message_id"] == got.message_id
    assert (entry["status_code"], entry["error"], entry["attempt"]) == (200, None, 1)
    assert entry["delivery_state"] == "delivered"
    assert entry["duration_ms"] >= 0


async def test_a_receiver_failing_twice_gets_the_event_once(
    client, session, settings, sessions, receiver
):
    owner, owner_secret = await new_key(session, "syndicate")
    subscription, secret = await subscribe(session, owner, url=receiver.url("flaky"))
    receiver.expect("flaky", secret, fail_first=2)
    await add_article(session, settings)
    worker = make_worker(sessions)

    async def delivered() -> bool:
        return [d.state for d in await deliveries(session, subscription.id)] == ["delivered"]

    await drain_until(worker, delivered)
    got = receiver.on("flaky")
    assert [r.status for r in got] == [500, 500, 200]
    assert len({r.message_id for r in got}) == 1  # every attempt carries the same webhook-id
    assert all(r.verified for r in got)
    log = (
        await client.get(f"/v1/webhooks/{subscription.id}/deliveries", headers=auth(owner_secret))
    ).json()["data"]
    assert [(e["attempt"], e["status_code"], e["error"]) for e in log] == [
        (3, 200, None),
        (2, 500, "HTTP 500"),
        (1, 500, "HTTP 500"),
    ]
    status = (
        await client.get(f"/v1/webhooks/{subscription.id}", headers=auth(owner_secret))
    ).json()
    assert status["status"] == "active"
    assert status["last_success_at"] is not None


async def test_giving_up_marks_the_subscription_failing(
    client, session, settings, sessions, receiver
):
    owner, owner_secret = await new_key(session, "syndicate")
    subscription, secret = await subscribe(session, owner, url=receiver.url("down"))
    receiver.expect("down", secret, fail_first=100)
    await add_article(session, settings)
    worker = make_worker(sessions, webhook_max_attempts=3)

    async def gave_up() -> bool:
        return [d.state for d in await deliveries(session, subscription.id)] == ["failed"]

    await drain_until(worker, gave_up)
    assert len(receiver.on("down")) == 3
    shown = (await client.get(f"/v1/webhooks/{subscription.id}", headers=auth(owner_secret))).json()
    assert shown["status"] == "failing"
    assert shown["failing_since"] is not None
    # The receiver recovers: the next delivery succeeds and clears the mark.
    receiver.expect("down", secret)
    await add_article(session, settings)
    await drain_until(worker, lambda: _active(client, subscription.id, owner_secret))


async def _active(client, subscription_id: str, secret: str) -> bool:
    shown = (await client.get(f"/v1/webhooks/{subscription_id}", headers=auth(secret))).json()
    return bool(shown["status"] == "active")


async def test_unreachable_targets_are_logged_as_errors(client, session, settings, sessions):
    owner, owner_secret = await new_key(session, "syndicate")
    subscription, _ = await subscribe(session, owner, url="http://127.0.0.1:9/closed")
    await add_article(session, settings)
    await make_worker(sessions, webhook_max_attempts=1).drain()
    [entry] = (
        await client.get(f"/v1/webhooks/{subscription.id}/deliveries", headers=auth(owner_secret))
    ).json()["data"]
    assert entry["status_code"] is None
    assert entry["error"].startswith("ConnectError")
    assert entry["delivery_state"] == "failed"


async def test_private_targets_are_refused_at_delivery_when_not_allowed(
    client, session, settings, sessions, receiver
):
    owner, owner_secret = await new_key(session, "syndicate")
    subscription, secret = await subscribe(session, owner, url=receiver.url("private"))
    receiver.expect("private", secret)
    await add_article(session, settings)
    await make_worker(sessions, webhook_allow_private_targets=False, webhook_max_attempts=1).drain()
    assert receiver.on("private") == []
    [entry] = (
        await client.get(f"/v1/webhooks/{subscription.id}/deliveries", headers=auth(owner_secret))
    ).json()["data"]
    assert entry["error"].startswith("refused: the scheme must be https")


@pytest.mark.parametrize(
    ("url", "allow_private", "refusal"),
    [
        # Stored before hosts and ports were checked: the attempt says why, not "internal error".
        ("https://aaa..com/h", True, "refused: the host 'aaa..com' is not a valid host name"),
        ("https://" + "a" * 64 + ".com/h", True, "refused: the host 'aaaa"),
        ("https://1.1.1.1:99999/h", True, "refused: the port must be between 1 and 65535"),
        # Addresses that lead to a private IPv4 one, checked again when connecting.
        ("https://[2002:7f00:1::]:9/h", False, "refused: the host '2002:7f00:1::' resolves to a loopback"),
        ("https://[64:ff9b::a9fe:a9fe]/h", False, "refused: the host '64:ff9b::a9fe:a9fe' resolves to a link-local"),
    ],
)  # fmt: skip
async def test_bad_stored_targets_are_refused_at_delivery(
    client, session, settings, sessions, url, allow_private, refusal
):
    owner, owner_secret = await new_key(session, "syndicate")
    subscription, _ = await subscribe(session, owner)
    subscription.url = url  # as an older version let it be stored
    await session.flush()
    await add_article(session, settings)
    worker = make_worker(
        sessions, webhook_allow_private_targets=allow_private, webhook_max_attempts=1
    )
    await worker.drain()
    [entry] = (
        await client.get(f"/v1/webhooks/{subscription.id}/deliveries", headers=auth(owner_secret))
    ).json()["data"]
    assert entry["error"].startswith(refusal), entry["error"]
    assert entry["status_code"] is None
    assert entry["delivery_state"] == "failed"


async def test_a_revoked_owner_gets_nothing_more(session, settings, sessions, receiver):
    owner, _ = await new_key(session, "syndicate")
    subscription, secret = await subscribe(session, owner, url=receiver.url("revoked"))
    receiver.expect("revoked", secret)
    await add_article(session, settings)
    await access.revoke(session, owner.id, dt.datetime.now(dt.UTC))
    await make_worker(sessions).drain()
    assert receiver.on("revoked") == []
    assert [d.state for d in await deliveries(session, subscription.id)] == ["cancelled"]


async def test_the_worker_lifts_embargoes_and_delivers_them(session, settings, sessions, receiver):
    owner, _ = await new_key(session, "syndicate")
    subscription, secret = await subscribe(session, owner, url=receiver.url("lift"))
    receiver.expect("lift", secret)
    now = dt.datetime.now(dt.UTC)
    view = await add_article(
        session, settings, now=now - dt.timedelta(minutes=10),
        published_at=now - dt.timedelta(minutes=5),
    )  # fmt: skip
    worker = make_worker(sessions)
    await worker.drain()
    await worker.drain()
    [got] = receiver.on("lift")
    assert got.verified
    data = got.payload["data"]
    assert (data["event"], data["article_id"], data["revision"]) == ("published", view.id, 1)
    assert data["article"]["status"] == "published"
    assert [d.state for d in await deliveries(session, subscription.id)] == ["delivered"]


async def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new(
    session, settings, sessions, receiver
):
    owner, _ = await new_key(session, "syndicate")
    subscription, old = await subscribe(session, owner, url=receiver.url("rotating"))
    admin = KeyInfo("admin", "admin", frozenset({"admin"}), None, None)
    now = dt.datetime.now(dt.UTC)
    _, new = await service.rotate_secret(
        session, admin, subscription.id, overlap=dt.timedelta(hours=1), box=CLEAR, now=now
    )
    receiver.expect("rotating", new)
    await add_article(session, settings)
    worker = make_worker(sessions)
    await worker.drain()

    [during] = receiver.on("rotating")
    assert during.verified
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during.body, during.headers)  # a receiver still on the old secret

    # The overlap is over: the old secret signs nothing more.
    subscription.previous_secret_expires_at = now - dt.timedelta(seconds=1)
    await session.flush()
    await add_article(session, settings, headline="After the overlap")
    await worker.drain()
    after = receiver.on("rotating")[-1]
    assert after.verified
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


async def _give_up_once(session, settings, worker, receiver, subscription) -> None:
    """One article whose delivery runs out of attempts (the receiver answers 500)."""
    await add_article(session, settings, headline=f"Undeliverable {len(receiver.on('gone'))}")

    async def settled() -> bool:
        return all(d.state != "pending" for d in await deliveries(session, subscription.id))

    await drain_until(worker, settled)


async def _failing_subscription(session, sessions, receiver, name: str, **worker_settings):
    """A partner's subscription to a receiver that answers 500, and a worker for it."""
    owner, owner_secret = await new_key(session, "syndicate")
    subscription, secret = await subscribe(session, owner, url=receiver.url(name))
    receiver.expect(name, secret, fail_first=1000)
    return owner_secret, subscription, secret, make_worker(sessions, **worker_settings)


async def _backdate_failing(session, subscription, days: float) -> None:
    subscription.failing_since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    await session.flush()


async def test_a_subscription_failing_for_days_is_disabled_until_enabled(
    client, session, settings, sessions, receiver
):
    owner_secret, subscription, secret, worker = await _failing_subscription(
        session, sessions, receiver, "gone", webhook_max_attempts=2, webhook_disable_after_days=5
    )
    await _give_up_once(session, settings, worker, receiver, subscription)
    path = f"/v1/webhooks/{subscription.id}"
    assert (await client.get(path, headers=auth(owner_secret))).json()["status"] == "failing"

    # Failing for six days; one event is queued for later, another gives up now.
    await _backdate_failing(session, subscription, days=6)
    await add_article(session, settings, headline="Queued for later")
    queued = (await deliveries(session, subscription.id))[-1]
    queued.next_attempt_at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    await session.flush()
    await _give_up_once(session, settings, worker, receiver, subscription)

    shown = (await client.get(path, headers=auth(owner_secret))).json()
    assert shown["status"] == "disabled"
    states = {d.id: d.state for d in await deliveries(session, subscription.id)}
    assert states[queued.id] == "cancelled"
    sent = len(receiver.on("gone"))
    rows = len(states)
    await add_article(session, settings, headline="While disabled")
    await worker.drain()
    assert len(await deliveries(session, subscription.id)) == rows  # nothing queued
    assert len(receiver.on("gone")) == sent

    # The owner fixes the receiver and enables the subscription: events flow again.
    receiver.expect("gone", secret)
    enabled = await client.post(f"{path}/enable", headers=auth(owner_secret))
    assert enabled.status_code == 200, enabled.text
    assert (enabled.json()["status"], enabled.json()["failing_since"]) == ("active", None)
    view = await add_article(session, settings, headline="After enabling")
    await worker.drain()
    assert receiver.on("gone")[-1].payload["data"]["article_id"] == view.id
    assert receiver.on("gone")[-1].verified


async def test_with_disabling_turned_off_a_failing_subscription_keeps_receiving(
    client, session, settings, sessions, receiver
):
    owner_secret, subscription, _, worker = await _failing_subscription(
        session, sessions, receiver, "flapping", webhook_max_attempts=1,
        webhook_disable_after_days=0,
    )  # fmt: skip
    await add_article(session, settings)
    await worker.drain()
    await _backdate_failing(session, subscription, days=300)
    await add_article(session, settings, headline="Still sent")
    await worker.drain()
    shown = await client.get(f"/v1/webhooks/{subscription.id}", headers=auth(owner_secret))
    assert shown.json()["status"] == "failing"
    assert len(receiver.on("flapping")) == 2


async def test_a_failure_that_will_be_retried_does_not_disable(
    client, session, settings, sessions, receiver
):
    owner_secret, subscription, _, worker = await _failing_subscription(
        session, sessions, receiver, "retrying", webhook_max_attempts=2,
        webhook_disable_after_days=5, webhook_backoff_base_seconds=600,
        webhook_backoff_max_seconds=600,
    )  # fmt: skip
    subscription.status = "failing"
    await _backdate_failing(session, subscription, days=6)
    await add_article(session, settings, headline="First attempt fails")
    await worker.drain()  # one failed attempt; the retry is ten minutes away
    [delivery] = await deliveries(session, subscription.id)
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    path = f"/v1/webhooks/{subscription.id}"
    assert (await client.get(path, headers=auth(owner_secret))).json()["status"] == "failing"
    # The retry comes due and fails too: the delivery gives up, and that disables.
    delivery.next_attempt_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await worker.drain()
    assert (await client.get(path, headers=auth(owner_secret))).json()["status"] == "disabled"


async def test_a_delivery_left_queued_for_a_disabled_subscription_is_cancelled(
    session, settings, sessions, receiver
):
    """A delivery the disabling could not cancel (another worker held it) is dropped when
    it comes up, not sent."""
    owner, _ = await new_key(session, "syndicate")
    subscription, secret = await subscribe(session, owner, url=receiver.url("switched-off"))
    receiver.expect("switched-off", secret)
    await add_article(session, settings)
    subscription.status = "disabled"
    await session.flush()
    await make_worker(sessions).drain()
    assert receiver.on("switched-off") == []
    [delivery] = await deliveries(session, subscription.id)
    assert delivery.state == "cancelled"
