"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

The schema is built from the migrations once per backend; each test runs inside a
transaction that is rolled back at the end (the app's commits become savepoints).
"""

from __future__ import annotations

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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.articles import service
from app.articles.readmodel import ArticleView
from app.articles.schemas import ArticleCreate
from app.articles.search import SearchIndex
from app.core.config import Settings
from app.core.db import make_engine
from app.core.paths import ALEMBIC_INI
from app.main import Byline, create_app

PG_URL = os.environ.get("BYLINE_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
PG_TEST_SCHEMA = "byline_test"
BASE_URL = "http://byline.test"


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
