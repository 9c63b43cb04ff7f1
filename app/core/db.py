"""The database: engine, one session per unit of work, the declarative Base and shared types."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeAlias, cast

from sqlalchemy import DateTime, Executable, MetaData, Select, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from app.core.config import async_database_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A SELECT of any columns (SQLAlchemy 2.1 types Select by its column types).
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The model's table, for Core inserts.

    `session.execute(insert(Model), rows)` takes the ORM's bulk-insert path, which costs
    about as much CPU again as the statement itself; these rows need none of it.
    """
    return cast(Table, model.__table__)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An instant stored in UTC and always given back timezone-aware.

    SQLite keeps no offset, so every value is normalised to naive UTC on the way in;
    the article's own filing offset is stored in a separate column.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; give an offset")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _sqlite_on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin, so that
    # SAVEPOINTs work and a write transaction takes its lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # A write takes SQLite's write lock at BEGIN (waiting up to busy_timeout for it), so
    # concurrent writers queue instead of failing when a read lock cannot be upgraded.
    writes = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for a plain or driver-qualified URL."""
    full_url = async_database_url(url)
    parsed = make_url(full_url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full_url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(full_url, **kwargs)


WRITE_OPTION = "byline_writes"


def make_sessionmaker(
    engine: AsyncEngine, *, writes: bool = False
) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads, or for writes (which lock early on SQLite)."""
    bind = engine.execution_options(**{WRITE_OPTION: True}) if writes else engine
    return async_sessionmaker(bind, expire_on_commit=False)


@contextlib.asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit if the block succeeds, roll back if it raises."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def adding_upsert(dialect: str, table: Table, keys: list[str]) -> Executable:
    """INSERT of counter rows that adds `count` to the row with the same `keys` if there is one.

    Every maintained count (statistics, views, usage) is written this way, so concurrent
    writers add to a row instead of overwriting it.
    """
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_update(
        index_elements=keys, set_={"count": table.c.count + insert.excluded.count}
    )
