"""The stats migration backfills from existing rows exactly what the writes would have counted."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.models import StatsDaily, StatsTermCount
from tests.conftest import (
    add_article,
    empty_database,
    run_alembic,
)

PG_SCHEMA = "byline_stats_migration"
BEFORE = "d62b1f8c4e21"


@pytest.fixture
async def fresh_engine(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of this backend."""
    async with empty_database(backend, tmp_path, PG_SCHEMA) as engine:
        yield engine


async def snapshot(engine: AsyncEngine) -> tuple[list[Any], list[Any]]:
    async with engine.connect() as conn:
        days = (
            await conn.execute(
                select(StatsDaily.day, StatsDaily.count)
                .where(StatsDaily.count != 0)
                .order_by(StatsDaily.day)
            )
        ).all()
        terms = (
            await conn.execute(
                select(
                    StatsTermCount.kind,
                    StatsTermCount.term_id,
                    StatsTermCount.bucket,
                    StatsTermCount.count,
                )
                .where(StatsTermCount.count != 0)
                .order_by(StatsTermCount.kind, StatsTermCount.term_id, StatsTermCount.bucket)
            )
        ).all()
    return [tuple(row) for row in days], [tuple(row) for row in terms]


async def test_backfill_matches_the_maintained_counts(fresh_engine, settings):
    await run_alembic(fresh_engine, ("upgrade", "head"))
    sessions = async_sessionmaker(fresh_engine, expire_on_commit=False)
    late = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    async with sessions() as session:
        await add_article(
            session, settings, slug="a", category="Arts", authors=["X", "Y"], tags=["T"]
        )
        await add_article(
            session, settings, slug="b", category="Arts", status="draft", tags=["T", "U"]
        )
        await add_article(session, settings, slug="c", category="News", published_at=late)
        await add_article(session, settings, slug="a", category="News", authors=["Y"], tags=["U"])
        await session.commit()
    maintained = await snapshot(fresh_engine)
    assert maintained[0]
    assert maintained[1]
    await run_alembic(fresh_engine, ("downgrade", BEFORE), ("upgrade", "head"))
    assert await snapshot(fresh_engine) == maintained
