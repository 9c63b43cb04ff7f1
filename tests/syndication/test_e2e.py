"""A real `byline serve`: its cached feeds follow writes by other processes and embargo lifts."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.access import service as keys
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from tests.conftest import add_article, own_database
from tests.e2e.conftest import (
    SAMPLE_EVERY,
    STALENESS_BOUND,
    STALENESS_MARGIN,
    Database,
    Server,
    running_servers,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Database, AsyncEngine]]:
    """A migrated, empty database, and an engine on it for the writes of "another process"."""
    async with own_database(backend, tmp_path, "syndication_e2e") as url:
        engine = make_engine(url)
        try:
            yield Database(url, tmp_path), engine
        finally:
            await engine.dispose()


@pytest.fixture
def server(database: tuple[Database, AsyncEngine]) -> Iterator[Server]:
    with running_servers(database[0], 1) as servers:
        yield servers[0]


async def editor_key(engine: AsyncEngine) -> dict[str, str]:
    async with make_sessionmaker(engine)() as session:
        _, secret = await keys.create(
            session, name="e2e-editor", scopes=["write", "syndicate"], categories=None,
            rate_limit=None, now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        await session.commit()
    return {"Authorization": f"Bearer {secret}"}


def article(headline: str, published_at: dt.datetime) -> dict[str, object]:
    return {
        "headline": headline, "dek": "A dek.", "category": "Science", "authors": ["Ada Writer"],
        "published_at": published_at.isoformat(), "status": "published",
        "sections": [{"heading": None, "paragraphs": [f"{headline}: the body."]}],
    }  # fmt: skip


def titles(client: httpx.Client, headers: dict[str, str] | None = None) -> list[str]:
    response = client.get("/v1/feeds/all.json", headers=headers)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


def first_time(check: Callable[[], bool], give_up: float) -> float:
    """Seconds since now until check() first holds, sampled every 50 ms."""
    start = time.monotonic()
    while time.monotonic() - start < give_up:
        if check():
            return time.monotonic() - start
        time.sleep(SAMPLE_EVERY)
    raise AssertionError(f"still not true after {give_up}s")


async def test_a_warm_feed_follows_other_processes_and_embargoes(
    database: tuple[Database, AsyncEngine], server: Server
) -> None:
    engine = database[1]
    editor = await editor_key(engine)
    now = dt.datetime.now(dt.UTC)
    with server.client() as client:
        created = client.post("/v1/articles", json=article("Out now", now), headers=editor)
        assert created.status_code == 201, created.text
        assert titles(client) == titles(client) == ["Out now"]  # the second is a cache hit
        cache_control = client.get("/v1/feeds/all.json").headers["cache-control"]
        max_age = re.search(r"max-age=(\d+)", cache_control)
        assert max_age is not None
        assert STALENESS_BOUND < int(max_age.group(1))

        # An embargo lifts without any write: the warm feed must show the article from then on.
        lift = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        scheduled = client.post("/v1/articles", json=article("Embargoed", lift), headers=editor)
        assert scheduled.json()["status"] == "scheduled"
        assert titles(client) == titles(client) == ["Out now"]
        waited = first_time(lambda: "Embargoed" in titles(client), give_up=5.0)
        shown_at = dt.datetime.now(dt.UTC)
        assert shown_at >= lift
        assert shown_at - lift <= dt.timedelta(seconds=STALENESS_MARGIN), waited

        # A write by another process (this one) reaches the warm feed through the change log.
        assert titles(client, editor) == titles(client, editor)
        async with make_sessionmaker(engine)() as session:
            await add_article(
                session, Settings(), headline="Out now", dek="A new dek.", published_at=now
            )
            await session.commit()
        lag = first_time(
            lambda: client.get("/v1/feeds/all.json").json()["items"][1]["summary"] == "A new dek.",
            give_up=5.0,
        )
        assert lag <= STALENESS_BOUND
