"""Fixtures for the change feed and the export: keys, a writer's helpers, and a committing database.

In the per-test rolled-back transaction, the sequence numbers earlier tests used are gaps
that will never fill; the app here therefore gives up on gaps at once (grace 0). The
gap rule itself is tested on its own (test_ceiling.py), and long-polling runs against a
database of its own where writes really commit (`live`), since a waiter and a writer
cannot share the one connection of a test transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker, session_scope
from app.main import Byline, create_app
from app.models import Change
from tests.access.test_keys import auth, make_key
from tests.conftest import BASE_URL, PG_URL, pg_engine, reset_pg_schema, run_alembic

LIVE_PG_SCHEMA = "byline_changes_live"


@pytest.fixture
async def app(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Byline]:
    application = create_app(settings, sessions)
    application.state.change_notifier.grace = dt.timedelta(0)
    yield application
    await application.state.change_notifier.close()


@dataclass
class Keys:
    partner: dict[str, str]  # syndicate, every category
    science: dict[str, str]  # syndicate, limited to the category "science"
    editor: dict[str, str]  # write
    reader: dict[str, str]  # read only


async def make_keys(session: AsyncSession) -> Keys:
    tag = uuid.uuid4().hex[:8]
    keys = Keys(
        partner=auth(await make_key(session, "syndicate", name=f"partner-{tag}")),
        science=auth(
            await make_key(session, "syndicate", name=f"science-{tag}", categories=["science"])
        ),
        editor=auth(await make_key(session, "write", name=f"editor-{tag}")),
        reader=auth(await make_key(session, "read", name=f"reader-{tag}")),
    )
    await session.commit()
    return keys


@pytest.fixture
async def keys(session: AsyncSession) -> Keys:
    return await make_keys(session)


async def log_top(session: AsyncSession) -> int:
    """The newest seq in the log now: a cursor that skips everything before the test."""
    return int(await session.scalar(select(func.coalesce(func.max(Change.seq), 0))) or 0)


def article(headline: str, **changes: Any) -> dict[str, Any]:
    return {
        "headline": headline,
        "dek": "A dek.",
        "category": "Science",
        "authors": ["Ada Writer"],
        "sections": [{"heading": None, "paragraphs": ["Text."]}],
        **changes,
    }


class Desk:
    """An editor working through the API."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    async def create(self, headline: str, **changes: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/articles", json=article(headline, **changes), headers=self.headers
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def post(self, article_id: str, action: str, body: Any = None) -> httpx.Response:
        response = await self.client.post(
            f"/v1/articles/{article_id}/{action}", json=body, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return response

    async def patch(self, article_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.patch(
            f"/v1/articles/{article_id}", json=changes, headers={**self.headers, "If-Match": "*"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def delete(self, article_id: str) -> None:
        response = await self.client.delete(f"/v1/articles/{article_id}", headers=self.headers)
        assert response.status_code == 204, response.text


@pytest.fixture
def desk(client: httpx.AsyncClient, keys: Keys) -> Desk:
    return Desk(client, keys.editor)


async def feed(
    client: httpx.AsyncClient, headers: dict[str, str], since: int | str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        "/v1/changes", params={"since": str(since), **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def story(body: dict[str, Any], article_id: str) -> list[str]:
    """The events a page holds for one article, in order."""
    return [event["event"] for event in body["data"] if event["article_id"] == article_id]


# ---- a database where writes commit, for long-polling


@pytest.fixture(scope="session")
async def live_engine(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}")
    else:
        assert PG_URL is not None
        await reset_pg_schema(LIVE_PG_SCHEMA)
        engine = pg_engine(LIVE_PG_SCHEMA)
    await run_alembic(engine, ("upgrade", "head"))
    yield engine
    await engine.dispose()


@dataclass
class Live:
    app: Byline
    client: httpx.AsyncClient
    keys: Keys
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def live(live_engine: AsyncEngine, settings: Settings) -> AsyncIterator[Live]:
    sessions = make_sessionmaker(live_engine)
    application = create_app(settings, sessions)
    async with session_scope(sessions) as session:
        keys = await make_keys(session)
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=30) as client:
            yield Live(application, client, keys, sessions)
    finally:
        await application.state.change_notifier.close()
