"""Alembic environment: async engine, batch mode for SQLite, one metadata from app.models."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from app.core.config import get_settings
from app.core.db import make_engine
from app.models import Base

# Tables Byline manages by hand, per dialect (full-text search): not in the metadata.
UNMANAGED_PREFIXES = ("article_search",)


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    if type_ == "table" and name is not None:
        return not name.startswith(UNMANAGED_PREFIXES)
    return True


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        render_as_batch=True,
        include_name=include_name,
    )


def run_with(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = make_engine(get_settings().database_url)
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
    await engine.dispose()


def main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        run_with(given)
    else:
        asyncio.run(run_async())


main()
