"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

The schema is built from the migrations once per backend; each test runs inside a
transaction that is rolled back at the end (the app's commits become savepoints).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.articles import service
from app.articles.readmodel import ArticleView
from app.articles.schemas import ArticleCreate
from app.articles.search import SearchIndex
from app.core.config import Settings
from app.core.db import make_engine
from app.core.paths import ALEMBIC_INI
from app.main import Byline, create_app

# Under pytest-xdist (`make test` runs two workers) each worker process has its own
# PostgreSQL database beside the configured one (`test_gw0`, `test_gw1`…, made at session
# start) and its own Redis databases, so that no test sees another worker's tables,
# schemas or counters. Everything else derives its names from these.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
REDIS_DATABASES_PER_WORKER = 2


def _worker_database(url: str | None) -> str | None:
    if url is None or not WORKER:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{WORKER}").render_as_string(hide_password=False)


PG_URL = _worker_database(os.environ.get("BYLINE_TEST_DATABASE_URL"))
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
PG_TEST_SCHEMA = "byline_test"
BASE_URL = "http://byline.test"


def redis_test_url(slot: int) -> str:
    """The URL of Redis database `slot` (0 or 1) of this worker on the local Redis:
    15 and 14 for the first (or only) worker, 13 and 12 for the next…"""
    assert 0 <= slot < REDIS_DATABASES_PER_WORKER
    index = int(WORKER.removeprefix("gw") or 0)
    number = 15 - index * REDIS_DATABASES_PER_WORKER - slot
    assert number >= 0, "too many test workers for Redis's 16 databases"
    return f"redis://127.0.0.1:6379/{number}"


def _pg_admin_engine() -> AsyncEngine:
    """An engine on the server's `postgres` database, outside transactions (CREATE DATABASE)."""
    assert PG_URL is not None
    admin = make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)
    return make_engine(admin, isolation_level="AUTOCOMMIT")


async def pg_admin(*statements: str) -> None:
    """Run statements (CREATE/DROP DATABASE) on the server, outside a transaction."""
    engine = _pg_admin_engine()
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def pg_database_beside(suffix: str) -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database named after the test database and
    `suffix`, dropped at the end: for tests whose servers need a whole database."""
    assert PG_URL is not None
    url = make_url(PG_URL)
    name = f"{url.database}_{suffix}"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    await pg_admin(drop, f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await pg_admin(drop)


@contextlib.asynccontextmanager
async def own_database(backend: str, workdir: Path, suffix: str) -> AsyncIterator[str]:
    """The URL of a migrated, empty database of the test's own, named after `suffix`: a
    SQLite file in `workdir`, or a PostgreSQL database beside the test database (dropped
    at the end), for tests whose servers need a whole database."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'{suffix}.db'}"
        await migrate(url)
        yield url
        return
    async with pg_database_beside(suffix) as url:
        await migrate(url)
        yield url


async def migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await run_alembic(engine, ("upgrade", "head"))
    finally:
        await engine.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Make this worker's PostgreSQL database if it does not exist yet."""
    if PG_URL is None or not WORKER:
        return
    name = make_url(PG_URL).database

    async def create() -> None:
        engine = _pg_admin_engine()
        try:
            async with engine.connect() as conn:
                found = await conn.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if not found:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(create())


def pg_engine(schema: str) -> AsyncEngine:
    """An engine on the PostgreSQL test database whose tables live in `schema`."""
    assert PG_URL is not None
    return make_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})


async def reset_pg_schema(schema: str) -> None:
    assert PG_URL is not None
    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()


@contextlib.asynccontextmanager
async def empty_database(backend: str, tmp_path: Path, name: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of this backend: a SQLite file, or a PostgreSQL
    schema `name` made for the test and dropped after it (for migration tests)."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
    else:
        await reset_pg_schema(name)
        engine = pg_engine(name)
    try:
        yield engine
    finally:
        await engine.dispose()
        if backend == "postgresql":
            assert PG_URL is not None
            admin = make_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            await admin.dispose()


def alembic_config(connection: Any) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["connection"] = connection
    return config


async def run_alembic(engine: AsyncEngine, *steps: tuple[str, str]) -> None:
    """Run alembic commands (e.g. ("upgrade", "head")) on this engine's database."""

    def run(sync_conn: Any) -> None:
        config = alembic_config(sync_conn)
        for verb, target in steps:
            if verb == "check":
                command.check(config)
            else:
                getattr(command, verb)(config, target)

    async with engine.begin() as conn:
        await conn.run_sync(run)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(scope="session")
async def engine(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        eng = make_engine(f"sqlite:///{path}")
    else:
        await reset_pg_schema(PG_TEST_SCHEMA)
        eng = pg_engine(PG_TEST_SCHEMA)
    await run_alembic(eng, ("upgrade", "head"))
    yield eng
    await eng.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield conn
        await outer.rollback()


@pytest.fixture
def sessions(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as s:
        yield s


@pytest.fixture
def settings(backend: str) -> Settings:
    return Settings(
        database_url="sqlite:///unused.db", public_base_url=BASE_URL, anonymous_rate_limit="none"
    )


@pytest.fixture
def index(connection: AsyncConnection) -> SearchIndex:
    return SearchIndex(connection.dialect.name)


@pytest.fixture
def app(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Byline:
    return create_app(settings, sessions)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield c


# ---- factories: plain functions


_counter: Iterator[int] = iter(range(1, 10**9))


def make_article(**overrides: Any) -> ArticleCreate:
    """A valid article input; every field can be overridden."""
    n = next(_counter)
    data: dict[str, Any] = {
        "headline": f"Test headline number {n}",
        "dek": "A short dek.",
        "category": "Science",
        "authors": ["Ada Writer"],
        "published_at": dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC) + dt.timedelta(hours=n),
        "takeaways": ["First takeaway.", "Second takeaway."],
        "sections": [{"heading": None, "paragraphs": ["Opening paragraph."]}],
        "tags": [],
    }
    data.update(overrides)
    return ArticleCreate.model_validate(data)


async def add_article(
    session: AsyncSession, settings: Settings, *, status: str = "published",
    now: dt.datetime | None = None, **overrides: Any,
) -> ArticleView:  # fmt: skip
    """Store an article through the service (as an import would) and flush it."""
    index = SearchIndex(session.get_bind().dialect.name)
    result = await service.upsert(
        session, make_article(**overrides), status=status,
        now=now or dt.datetime.now(dt.UTC), settings=settings, index=index,
    )  # fmt: skip
    await session.flush()
    return result.view


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object a response carries; {} when it has no body (a 204)."""
    if not response.content:
        return {}
    body = response.json()
    assert isinstance(body, dict), body
    return body


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
