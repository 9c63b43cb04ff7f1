"""Databases of this package's own: SQLite files, or PostgreSQL databases beside the test database.

The in-process suite and the other end-to-end tests keep the test database itself; a
read replica and a multi-node deployment each need whole databases, made and dropped here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text

from app.core.db import make_engine
from tests.conftest import PG_URL, run_alembic


async def pg_admin(*statements: str) -> None:
    """Run statements (CREATE/DROP DATABASE) outside a transaction, on the server's `postgres`."""
    assert PG_URL is not None
    server_url = PG_URL.rpartition("/")[0]
    engine = make_engine(server_url + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def own_database(backend: str, workdir: Path, suffix: str) -> AsyncIterator[str]:
    """A migrated, empty database named after `suffix`, dropped (PostgreSQL) at the end."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'{suffix}.db'}"
        await migrate(url)
        yield url
        return
    assert PG_URL is not None
    server_url, _, name = PG_URL.rpartition("/")
    own = f"{name}_{suffix}"
    drop = f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'
    await pg_admin(drop, f'CREATE DATABASE "{own}"')
    try:
        url = f"{server_url}/{own}"
        await migrate(url)
        yield url
    finally:
        await pg_admin(drop)


async def migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await run_alembic(engine, ("upgrade", "head"))
    finally:
        await engine.dispose()
