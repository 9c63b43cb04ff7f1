"""A deployment on one machine: two `byline serve`, two `byline worker`, one database, one Redis.

Real processes on 127.0.0.1, as docs/DEPLOY.md describes them (minus the load balancer:
the tests spread requests over the servers themselves). They must agree: one rate-limit
budget per key, one change feed, each webhook delivered once, and a write made through one
server read through the other within the staleness bound that responses advertise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from app.access import service as access
from app.core.db import make_engine, make_sessionmaker, session_scope
from tests.conftest import json_object, own_database, redis_test_url
from tests.e2e.conftest import (
    BYLINE,
    STALENESS_BOUND,
    Database,
    Server,
    environment,
    running_servers,
    seconds_until_revision,
    stop_process,
    warm,
)
from tests.webhooks.receiver import Receiver, running_receiver

pytestmark = pytest.mark.e2e

REDIS_URL = redis_test_url(1)  # slot 0 belongs to tests/e2e/test_shared_limits.py
KEY_LIMIT = 6
LIMITED_PATH = "/v1/articles?limit=1"
SETTINGS = {
    "BYLINE_REDIS_URL": REDIS_URL,
    "BYLINE_ANONYMOUS_RATE_LIMIT": "none",
    "BYLINE_KEY_RATE_LIMIT": "100000/minute",
    "BYLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "BYLINE_WEBHOOK_POLL_INTERVAL": "0.1",
    "BYLINE_WEBHOOK_TIMEOUT_SECONDS": "1.5",
    "BYLINE_WEBHOOK_LEASE_SECONDS": "3.1",
}
DELIVERY_DEADLINE = 20.0
DUPLICATE_WATCH = 1.0  # after the last first delivery, how long a second copy is waited for


@dataclass
class Fleet:
    database: Database
    servers: list[Server]
    receiver: Receiver
    writer: str
    partner: str  # read + syndicate: feeds, the change feed, webhooks
    limited: str  # a read key allowed KEY_LIMIT requests a minute

    def call(self, server: int, method: str, path: str, key: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON object answered ({} for a 204); anything but a 2xx fails the test."""
        headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        with self.servers[server].client() as client:
            response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, response.text
        return json_object(response)


async def make_keys(url: str) -> dict[str, str]:
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    wanted = {"writer": (["write"], None), "partner": (["read", "syndicate"], None),
              "limited": (["read"], f"{KEY_LIMIT}/minute")}  # fmt: skip
    try:
        async with session_scope(make_sessionmaker(engine, writes=True)) as session:
            return {
                name: (
                    await access.create(
                        session,
                        name=f"fleet-{name}",
                        scopes=scopes,
                        categories=None,
                        rate_limit=limit,
                        now=now,
                    )  # fmt: skip
                )[1]
                for name, (scopes, limit) in wanted.items()
            }
    finally:
        await engine.dispose()


@contextlib.contextmanager
def workers(database: Database, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `byline worker` processes, each in a process group of its own; stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(count):
            with (database.workdir / f"worker-{n}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        [str(BYLINE), "worker"],
                        env=environment(database.url, SETTINGS),
                        cwd=database.workdir,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )  # fmt: skip
                )
        yield started
    finally:
        for process in started:
            stop_process(process)


@pytest.fixture(scope="module")
async def fleet(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    workdir = tmp_path_factory.mktemp(f"fleet-{backend}")
    with redis.Redis.from_url(REDIS_URL) as store:
        store.flushdb()
    async with own_database(backend, workdir, "multinode") as url:
        keys = await make_keys(url)
        database = Database(url, workdir)
        with (
            running_receiver() as receiver,
            running_servers(database, 2, SETTINGS) as servers,
            workers(database, 2) as running,
        ):
            yield Fleet(database, servers, receiver, **keys)
            assert all(p.poll() is None for p in running), "a worker died during the tests"


def article(category: str, n: int) -> dict[str, Any]:
    return {
        "headline": f"Fleet story {category} {n}", "category": category,
        "authors": ["Fleet Writer"], "takeaways": ["Every node agrees."],
        "sections": [{"heading": None, "paragraphs": [f"Paragraph {n}."]}],
        "status": "published",
    }  # fmt: skip


def publish(fleet: Fleet, category: str, count: int) -> list[str]:
    """`count` published articles, written through each server in turn: their ids."""
    return [
        fleet.call(n % 2, "POST", "/v1/articles", fleet.writer, json=article(category, n))["id"]
        for n in range(count)
    ]


def test_a_key_has_one_budget_across_both_servers(fleet: Fleet) -> None:
    answers = []
    for n in range(KEY_LIMIT + 2):
        with fleet.servers[n % 2].client() as client:
            answers.append(
                client.get(LIMITED_PATH, headers={"Authorization": f"Bearer {fleet.limited}"})
            )
    assert [r.status_code for r in answers] == [200] * KEY_LIMIT + [429, 429]
    remaining = [int(r.headers["RateLimit-Remaining"]) for r in answers[:KEY_LIMIT]]
    assert remaining == list(range(KEY_LIMIT))[::-1]
    refused = answers[-1]
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_both_servers_serve_one_change_feed(fleet: Fleet) -> None:
    category = f"feed-{uuid.uuid4().hex[:8]}"
    written = publish(fleet, category, 4)
    pages = [
        fleet.call(i, "GET", "/v1/changes", fleet.partner, params={"since": "0", "limit": 100})
        for i in (0, 1)
    ]
    assert pages[0] == pages[1]
    ours = [e["article_id"] for e in pages[0]["data"] if e["article_id"] in written]
    assert ours == written  # in the order they were written, whichever server took them
    seqs = [e["seq"] for e in pages[0]["data"]]
    assert seqs == sorted(set(seqs))


def test_each_webhook_is_delivered_once(fleet: Fleet) -> None:
    token = uuid.uuid4().hex[:8]
    category, name = f"hooks-{token}", f"fleet-{token}"
    made = fleet.call(
        0, "POST", "/v1/webhooks", fleet.partner,
        json={"url": fleet.receiver.url(name), "events": ["published"], "categories": [category]},
    )  # fmt: skip
    fleet.receiver.expect(name, made["secret"])
    written = publish(fleet, category, 8)

    def ids() -> Counter[str]:
        return Counter(r.message_id for r in fleet.receiver.on(name))

    fleet.receiver.wait_for(lambda: len(ids()) >= len(written), DELIVERY_DEADLINE, "deliveries")
    with contextlib.suppress(AssertionError):  # waiting for a duplicate that should never come
        fleet.receiver.wait_for(lambda: sum(ids().values()) > len(written), DUPLICATE_WATCH, "")
    got = fleet.receiver.on(name)
    assert all(r.verified and r.status == 200 for r in got)
    assert sorted(ids().values()) == [1] * len(written), ids()
    assert sorted(r.payload["data"]["article_id"] for r in got) == sorted(written)
    fleet.call(1, "DELETE", f"/v1/webhooks/{made['id']}", fleet.partner)


def test_a_write_through_one_server_is_read_through_the_other_in_time(fleet: Fleet) -> None:
    (article_id,) = publish(fleet, f"stale-{uuid.uuid4().hex[:8]}", 1)
    path = f"/v1/articles/{article_id}"
    before = [warm(server, path) for server in fleet.servers]
    assert [r.json()["revision"] for r in before] == [1, 1]

    fleet.call(
        1, "PATCH", path, fleet.writer, json={"dek": "Changed through the second server."},
        headers={"If-Match": before[1].headers["ETag"], "Content-Type": "application/merge-patch+json"},
    )  # fmt: skip
    lags = seconds_until_revision(fleet.servers, path, 2)

    assert max(lags) <= STALENESS_BOUND, f"lags {lags} exceed {STALENESS_BOUND}s"
    max_age = re.search(r"max-age=(\d+)", before[0].headers["Cache-Control"])
    assert max_age is not None, before[0].headers["Cache-Control"]
    assert STALENESS_BOUND < int(max_age.group(1))
    for server in fleet.servers:
        after = warm(server, path)
        assert after.json()["dek"] == "Changed through the second server."
