"""Real processes: `byline serve`, one or two `byline worker`s, and a receiver on 127.0.0.1.

Every request the receiver gets is verified with the standardwebhooks library. Each test
files its articles under a category of its own and subscribes to that category only, so
what it counts is exactly what it caused, whatever else the shared database holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.access import service as access
from app.core.db import make_engine, make_sessionmaker, session_scope
from app.models import WebhookSubscription
from app.webhooks.secrets import SEALED
from tests.conftest import json_object, own_database
from tests.e2e.conftest import (
    BYLINE,
    Database,
    Server,
    environment,
    running_servers,
    stop_process,
)
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.e2e

# Servers and workers share a key: secrets are stored encrypted, and the worker processes
# must decrypt them to sign (the receiver verifies with the secret the API returned).
SECRET_KEY = Fernet.generate_key().decode()
SETTINGS = {
    "BYLINE_SECRET_KEYS": SECRET_KEY,
    "BYLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "BYLINE_WEBHOOK_POLL_INTERVAL": "0.1",
    "BYLINE_WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
    "BYLINE_WEBHOOK_BACKOFF_MAX_SECONDS": "0.4",
    "BYLINE_WEBHOOK_TIMEOUT_SECONDS": "1.5",
    "BYLINE_WEBHOOK_LEASE_SECONDS": "3.1",
    "BYLINE_ANONYMOUS_RATE_LIMIT": "none",
    "BYLINE_KEY_RATE_LIMIT": "100000/minute",
}
DELIVERY_DEADLINE = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class Desk:
    database: Database
    server: Server
    partner: str  # a read+syndicate key: it owns the subscriptions
    writer: str

    def call(self, method: str, path: str, key: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON object answered ({} for a 204); anything but a 2xx fails the test."""
        with self.server.client() as client:
            response = client.request(
                method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs
            )
        assert response.status_code < 300, response.text
        return json_object(response)


@pytest.fixture(scope="module")
async def hooks_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """A migrated, empty database of this module's own (PostgreSQL: beside the test database)."""
    workdir = tmp_path_factory.mktemp(f"webhooks-e2e-{backend}")
    async with own_database(backend, workdir, "webhooks_e2e") as url:
        yield Database(url, workdir)


@pytest.fixture(scope="module")
async def desk(hooks_database: Database) -> AsyncIterator[Desk]:
    partner, writer = await _prepare(hooks_database)
    with running_servers(hooks_database, 1, SETTINGS) as [server]:
        yield Desk(hooks_database, server, partner, writer)


async def _prepare(database: Database) -> tuple[str, str]:
    """Make the partner's and the newsroom's keys (in-process: it is quicker)."""
    engine = make_engine(database.url)
    try:
        async with session_scope(make_sessionmaker(engine, writes=True)) as session:
            now = dt.datetime.now(dt.UTC)
            made = [
                await access.create(
                    session, name=name, scopes=scopes, categories=None, rate_limit=None, now=now
                )
                for name, scopes in (("partner", ["read", "syndicate"]), ("desk", ["write"]))
            ]
    finally:
        await engine.dispose()
    return made[0][1], made[1][1]


@contextlib.contextmanager
def workers(database: Database, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `byline worker` processes, each in its own process group; stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            started.append(start_worker(database))
        yield started
    finally:
        for process in started:
            stop_process(process)


def start_worker(database: Database) -> subprocess.Popen[bytes]:
    log = database.workdir / f"worker-{uuid.uuid4().hex[:8]}.log"
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BYLINE), "worker"], env=environment(database.url, SETTINGS),
            cwd=database.workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def article(category: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "headline": f"Webhook story {category} {n}",
        "category": category,
        "authors": ["Hook Writer"],
        "takeaways": ["Partners hear of it."],
        "sections": [{"heading": None, "paragraphs": [f"Paragraph {n}."]}],
        **extra,
    }


async def _stored_secrets(database: Database, subscription_ids: list[str]) -> list[str]:
    engine = make_engine(database.url)
    try:
        async with make_sessionmaker(engine)() as session:
            found = await session.scalars(
                select(WebhookSubscription.secret).where(
                    WebhookSubscription.id.in_(subscription_ids)
                )
            )
            return list(found)
    finally:
        await engine.dispose()


def subscribe(desk: Desk, receiver: Receiver, name: str, category: str, **behaviour: Any) -> str:
    made = desk.call(
        "POST", "/v1/webhooks", desk.partner,
        json={"url": receiver.url(name), "events": ["published", "updated"], "categories": [category]},
    )  # fmt: skip
    receiver.expect(name, made["secret"], **behaviour)
    return str(made["id"])


def answered(receiver: Receiver, name: str) -> dict[str, list[int]]:
    """The statuses the receiver gave each message id, in order."""
    statuses: dict[str, list[int]] = defaultdict(list)
    for got in receiver.on(name):
        statuses[got.message_id].append(got.status)
    return statuses


def delivered_ids(receiver: Receiver, name: str) -> set[str]:
    return {m for m, statuses in answered(receiver, name).items() if 200 in statuses}


def test_two_workers_deliver_every_event_exactly_once(desk: Desk, receiver: Receiver) -> None:
    token = uuid.uuid4().hex[:8]
    category = f"webhooks-{token}"
    # The draft makes the category, which a subscription must name (it becomes visible later).
    draft = desk.call("POST", "/v1/articles", desk.writer, json=article(category, 99))["id"]
    steady = subscribe(desk, receiver, f"steady-{token}", category)
    flaky = subscribe(desk, receiver, f"flaky-{token}", category, fail_first=2)
    published = [
        desk.call("POST", "/v1/articles", desk.writer, json=article(category, n, status="published"))["id"]
        for n in range(12)
    ]  # fmt: skip
    embargo = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    desk.call(
        "POST", f"/v1/articles/{draft}/publish", desk.writer, json={"at": embargo.isoformat()}
    )
    expected = len(published) + 1  # and the scheduled one, when its embargo lifts

    with workers(desk.database, 2):
        for name in (f"steady-{token}", f"flaky-{token}"):
            receiver.wait_for(
                lambda name=name: len(delivered_ids(receiver, name)) >= expected,
                DELIVERY_DEADLINE, f"{expected} deliveries to {name}",
            )  # fmt: skip

    stored = asyncio.run(_stored_secrets(desk.database, [steady, flaky]))
    assert all(secret.startswith(SEALED) for secret in stored), "secrets stored in clear"

    for name, statuses in (("steady", [200]), ("flaky", [500, 500, 200])):
        got = receiver.on(f"{name}-{token}")
        assert all(r.verified for r in got), [r.headers for r in got if not r.verified]
        per_message = answered(receiver, f"{name}-{token}")
        assert len(per_message) == expected
        assert all(s == statuses for s in per_message.values()), per_message
        events = Counter(
            (r.payload["data"]["article_id"], r.payload["data"]["event"]) for r in got if r.status == 200
        )  # fmt: skip
        assert events == Counter({(a, "published"): 1 for a in [*published, draft]})
        lifted = next(r.payload["data"] for r in got if r.payload["data"]["article_id"] == draft)
        assert dt.datetime.fromisoformat(lifted["at"]) == embargo  # the event is dated at the lift
        assert lifted["article"]["status"] == "published"
    log = desk.call("GET", f"/v1/webhooks/{flaky}/deliveries", desk.partner, params={"limit": 100})
    assert Counter(e["status_code"] for e in log["data"]) == {500: 2 * expected, 200: expected}
    for subscription in (steady, flaky):
        desk.call("DELETE", f"/v1/webhooks/{subscription}", desk.partner)


def test_a_worker_killed_mid_delivery_loses_nothing(desk: Desk, receiver: Receiver) -> None:
    token = uuid.uuid4().hex[:8]
    category = f"webhooks-{token}"
    name = f"hang-{token}"
    # A draft makes the category, which a subscription must name; partners never hear of it.
    desk.call("POST", "/v1/articles", desk.writer, json=article(category, 0))
    subscription = subscribe(desk, receiver, name, category, hang_first=True)
    receiver.hanging.clear()
    desk.call("POST", "/v1/articles", desk.writer, json=article(category, 1, status="published"))

    with workers(desk.database, 1) as [first]:
        assert receiver.hanging.wait(DELIVERY_DEADLINE), "the first worker never sent"
        os.killpg(first.pid, signal.SIGKILL)  # mid-delivery: the receiver has not answered
        first.wait(timeout=STOP_TIMEOUT)
    with workers(desk.database, 1):
        receiver.wait_for(lambda: delivered_ids(receiver, name), DELIVERY_DEADLINE, "redelivery")

    got = receiver.on(name)
    assert [r.status for r in got] == [0, 200]  # held by the dead worker, then delivered
    assert len({r.message_id for r in got}) == 1  # the same webhook-id: receivers can dedupe
    assert all(r.verified for r in got)
    log = desk.call("GET", f"/v1/webhooks/{subscription}/deliveries", desk.partner)["data"]
    assert [(e["status_code"], e["delivery_state"]) for e in log] == [(200, "delivered")]
    desk.call("DELETE", f"/v1/webhooks/{subscription}", desk.partner)
