"""BYLINE_DATABASE_READ_URL: public reads go to the replica, writes and editors' reads to the primary.

Two real databases stand in for a primary and its replica. Nothing copies one into the
other, so where a row is found shows which database a request used. On PostgreSQL the
replica refuses writes (`default_transaction_read_only`), as a hot standby does, so a read
path that writes would fail here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.access import service as access
from app.articles.readmodel import ArticleView
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker, session_scope
from app.main import create_app
from app.models import ApiKey, Article
from tests.conftest import BASE_URL, add_article, own_database, pg_admin

POLL = 0.1  # BYLINE_CACHE_POLL_INTERVAL of the app under test
CATCH_UP = 3.0  # seconds a change on the replica may take to reach the cache (many polls)


@dataclass
class Deployment:
    backend: str
    primary_url: str
    replica_url: str
    client: httpx.AsyncClient
    writer: str
    admin: str
    partner: str
    on_replica: Any  # an ArticleView stored on the replica only

    def as_(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}


def writable(url: str) -> AsyncEngine:
    """An engine that may write even on the read-only replica (standing in for replication)."""
    if url.startswith("postgresql"):
        settings = {"default_transaction_read_only": "off"}
        return make_engine(url, connect_args={"server_settings": settings})
    return make_engine(url)


async def seed_keys(url: str) -> dict[str, str]:
    engine = writable(url)
    now = dt.datetime.now(dt.UTC)
    try:
        async with session_scope(make_sessionmaker(engine, writes=True)) as session:
            return {
                scope: (
                    await access.create(
                        session,
                        name=f"replica-{scope}",
                        scopes=[scope],
                        categories=None,
                        rate_limit=None,
                        now=now,
                    )  # fmt: skip
                )[1]
                for scope in ("write", "admin", "syndicate")
            }
    finally:
        await engine.dispose()


async def store_article(url: str, settings: Settings, **overrides: Any) -> ArticleView:
    engine = writable(url)
    try:
        async with session_scope(make_sessionmaker(engine, writes=True)) as session:
            return await add_article(session, settings, **overrides)
    finally:
        await engine.dispose()


async def ids_in(url: str, model: type[Article] | type[ApiKey]) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set((await conn.scalars(select(model.id))).all())
    finally:
        await engine.dispose()


def settings_for(primary: str, replica: str | None) -> Settings:
    return Settings(
        database_url=primary, database_read_url=replica, public_base_url=BASE_URL,
        anonymous_rate_limit="none", cache_poll_interval=POLL, webhook_allow_private_targets=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
async def deployment(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    workdir: Path = tmp_path_factory.mktemp(f"replica-{backend}")
    async with (
        own_database(backend, workdir, "replica_primary") as primary,
        own_database(backend, workdir, "replica_replica") as replica,
    ):
        keys = await seed_keys(primary)
        settings = settings_for(primary, replica)
        on_replica = await store_article(replica, settings, headline="Only on the replica")
        if backend == "postgresql":
            name = replica.rpartition("/")[2]
            await pg_admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
        ):
            yield Deployment(
                backend, primary, replica, client,
                keys["write"], keys["admin"], keys["syndicate"], on_replica,
            )  # fmt: skip


async def create_published(deployment: Deployment, headline: str) -> dict[str, Any]:
    body = {
        "headline": headline, "category": "Science", "authors": ["Ada Writer"],
        "takeaways": ["One."], "sections": [{"heading": None, "paragraphs": ["Text."]}],
        "status": "published",
    }  # fmt: skip
    made = await deployment.client.post(
        "/v1/articles", json=body, headers=deployment.as_(deployment.writer)
    )
    assert made.status_code == 201, made.text
    created: dict[str, Any] = made.json()
    return created


def test_a_replica_must_be_the_same_kind_of_database() -> None:
    with pytest.raises(ValidationError, match="same kind of database"):
        Settings(database_url="sqlite:///a.db", database_read_url="postgresql://h/db")
    with pytest.raises(ValidationError, match="unsupported database scheme"):
        Settings(database_url="sqlite:///a.db", database_read_url="mysql://h/db")
    assert Settings(database_read_url="").database_read_url is None
    assert Settings(database_read_url="sqlite:///r.db").database_read_url == "sqlite:///r.db"


async def test_public_reads_come_from_the_replica(deployment: Deployment) -> None:
    client, replica_only = deployment.client, deployment.on_replica
    listed = await client.get("/v1/articles", params={"limit": 100})
    assert listed.status_code == 200
    assert replica_only.id in {a["id"] for a in listed.json()["data"]}
    # Twice: the second answer comes from the read cache, which the replica filled.
    for _ in range(2):
        detail = await client.get(f"/v1/articles/{replica_only.id}")
        assert detail.status_code == 200
        assert detail.json()["headline"] == "Only on the replica"
    feed = await client.get("/v1/feeds/all.json")
    assert feed.status_code == 200
    assert "Only on the replica" in feed.text
    assert replica_only.id not in await ids_in(deployment.primary_url, Article)


async def test_writes_go_to_the_primary_and_readers_see_them_only_once_replicated(
    deployment: Deployment,
) -> None:
    made = await create_published(deployment, "Written to the primary")
    assert made["id"] in await ids_in(deployment.primary_url, Article)
    assert made["id"] not in await ids_in(deployment.replica_url, Article)
    # Anonymous and partner reads use the replica, which has not received it.
    for key in (None, deployment.partner):
        missing = await deployment.client.get(
            f"/v1/articles/{made['id']}", headers=deployment.as_(key)
        )
        assert missing.status_code == 404, missing.text
        assert missing.headers["Content-Type"].startswith("application/problem+json")


async def test_editors_read_their_own_writes_from_the_primary(deployment: Deployment) -> None:
    client, editor = deployment.client, deployment.as_(deployment.writer)
    made = await create_published(deployment, "An editor reads it back at once")
    seen = await client.get(f"/v1/articles/{made['id']}", headers=editor)
    assert seen.status_code == 200, seen.text
    assert seen.json()["revision"] == made["revision"]
    draft = await client.post(
        "/v1/articles",
        headers=editor,
        json={"headline": "A draft on the primary", "category": "Science", "authors": ["A B"],
              "takeaways": ["T."], "sections": [{"heading": None, "paragraphs": ["P."]}]},
    )  # fmt: skip
    assert draft.status_code == 201, draft.text
    drafts = await client.get("/v1/articles", params={"status": "draft"}, headers=editor)
    assert drafts.status_code == 200, drafts.text
    assert draft.json()["id"] in {a["id"] for a in drafts.json()["data"]}
    revisions = await client.get(f"/v1/articles/{draft.json()['id']}/revisions", headers=editor)
    assert revisions.status_code == 200, revisions.text


async def test_a_write_through_the_session_dependency_uses_the_primary(
    deployment: Deployment,
) -> None:
    # POST /v1/keys takes the plain `Session`; the method alone sends it to the primary.
    made = await deployment.client.post(
        "/v1/keys",
        json={"name": "made-on-the-primary", "scopes": ["read"]},
        headers=deployment.as_(deployment.admin),
    )
    assert made.status_code == 201, made.text
    assert made.json()["id"] in await ids_in(deployment.primary_url, ApiKey)
    assert made.json()["id"] not in await ids_in(deployment.replica_url, ApiKey)


async def test_partners_read_back_their_webhooks_from_the_primary(deployment: Deployment) -> None:
    client, partner = deployment.client, deployment.as_(deployment.partner)
    made = await client.post(
        "/v1/webhooks", headers=partner,
        json={"url": "http://127.0.0.1:9/hook", "events": ["published"]},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    listed = await client.get("/v1/webhooks", headers=partner)
    assert listed.status_code == 200, listed.text
    assert made.json()["id"] in {w["id"] for w in listed.json()["data"]}
    one = await client.get(f"/v1/webhooks/{made.json()['id']}/deliveries", headers=partner)
    assert one.status_code == 200, one.text


async def test_read_paths_never_write_to_the_replica(deployment: Deployment) -> None:
    replica_only = deployment.on_replica
    paths = [
        "/v1/articles?facets=category,author,tag&include_total=true",
        "/v1/articles?q=replica",
        f"/v1/articles/{replica_only.slug}",
        f"/v1/articles/{replica_only.id}/related",
        f"/v1/articles/{replica_only.id}/ninjs",
        f"/v1/articles/{replica_only.id}/jsonld",
        "/v1/categories", "/v1/categories/science", "/v1/authors", "/v1/tags",
        "/v1/feeds/all.rss", "/v1/feeds/science.atom",
    ]  # fmt: skip
    for key in (None, deployment.partner):
        for path in paths:
            got = await deployment.client.get(path, headers=deployment.as_(key))
            assert got.status_code == 200, (path, got.text)
    for path in ("/v1/keys/me", "/v1/webhooks", "/v1/changes"):
        got = await deployment.client.get(path, headers=deployment.as_(deployment.partner))
        assert got.status_code == 200, (path, got.text)


async def test_the_cache_follows_the_replica_change_log(deployment: Deployment) -> None:
    client = deployment.client
    settings = settings_for(deployment.primary_url, deployment.replica_url)
    stored = await store_article(
        deployment.replica_url, settings, headline="Changes on the replica"
    )
    path = f"/v1/articles/{stored.id}"
    warm = [await client.get(path) for _ in range(2)]
    assert [r.json()["revision"] for r in warm] == [1, 1]
    # "Replication" brings a new revision; only a follower reading the replica notices it.
    await store_article(
        deployment.replica_url, settings, headline="Changes on the replica",
        sections=[{"heading": None, "paragraphs": ["A second revision."]}],
    )  # fmt: skip
    deadline = time.monotonic() + CATCH_UP
    while (await client.get(path)).json()["revision"] != 2:
        assert time.monotonic() < deadline, "the cache kept revision 1"
        await asyncio.sleep(POLL / 2)


async def test_without_a_read_url_every_read_uses_the_primary(deployment: Deployment) -> None:
    made = await create_published(deployment, "Seen when there is no replica")
    app = create_app(settings_for(deployment.primary_url, None))
    assert app.state.read_sessions is app.state.sessions
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client,
    ):
        seen = await client.get(f"/v1/articles/{made['id']}")
    assert seen.status_code == 200, seen.text


async def test_readiness_covers_the_replica(deployment: Deployment) -> None:
    ready = await deployment.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["replica"] == "ok"


async def test_not_ready_while_the_replica_cannot_serve(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Public reads need the replica: a server that cannot reach it must leave the pool."""
    if deployment.backend == "sqlite":
        broken, reason = f"sqlite:///{tmp_path / 'never-migrated.db'}", "read replica not migrated"
    else:
        server = deployment.primary_url.rpartition("/")[0]
        broken, reason = f"{server}/byline_no_such_replica", "read replica unreachable"
    app = create_app(settings_for(deployment.primary_url, broken))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        ready = await client.get("/readyz")
    await app.state.read_engine.dispose()
    await app.state.engine.dispose()
    assert ready.status_code == 503
    assert ready.json()["reason"].startswith(reason), ready.text
