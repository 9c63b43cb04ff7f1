"""The change-feed migration backfills who could see each existing change, from the revisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import UTCDateTime
from app.models import Article, Category, Revision
from tests.conftest import empty_database, run_alembic

BEFORE = "c51a0e7b3d10"
THIS = "d62b1f8c4e21"
PG_SCHEMA = "byline_changes_migration"
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)

# The change log as it was before this migration.
old_changes = sa.table(
    "changes",
    sa.column("seq", sa.Integer()),
    sa.column("event", sa.String()),
    sa.column("article_id", sa.String()),
    sa.column("revision", sa.Integer()),
    sa.column("at", UTCDateTime()),
)


@pytest.fixture
async def fresh_engine(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of this backend."""
    async with empty_database(backend, tmp_path, PG_SCHEMA) as engine:
        yield engine


def snapshot(
    status: str, published_at: dt.datetime | None, syndication: bool = True
) -> dict[str, Any]:
    return {
        "status": status,
        "published_at": published_at.isoformat() if published_at else None,
        "category": {"slug": "science", "name": "Science"},
        "rights": {"syndication": syndication},
    }


def article_row(article_id: str) -> dict[str, Any]:
    return {
        "id": article_id, "slug": article_id, "headline": article_id, "category_id": 1,
        "status": "published", "created_at": T0, "updated_at": T0, "language": "en",
        "revision": 1, "word_count": 1, "reading_time_minutes": 1,
        "copyright_holder": "Byline", "usage_terms": "Terms", "syndication": True,
    }  # fmt: skip


# (seq, article, revision, event, at, snapshot of that revision or None)
HISTORY: list[tuple[int, str, int, str, dt.datetime, dict[str, Any] | None]] = [
    (1, "art_a", 1, "created", T0, snapshot("draft", None)),
    (2, "art_a", 2, "published", T0 + dt.timedelta(hours=1), snapshot("published", T0)),
    (3, "art_a", 3, "retracted", T0 + dt.timedelta(hours=2), snapshot("retracted", T0)),
    (4, "art_b", 1, "published", T0, snapshot("published", T0, syndication=False)),
    (5, "art_c", 1, "updated", T0, snapshot("scheduled", T0 + dt.timedelta(hours=1))),
    (6, "art_c", 1, "published", T0 + dt.timedelta(hours=1), None),  # an embargo lift
    (7, "art_d", 9, "updated", T0, None),  # no snapshot at all
]


async def test_backfill_judges_each_change_by_its_revisions(fresh_engine: AsyncEngine):
    await run_alembic(fresh_engine, ("upgrade", BEFORE))
    async with fresh_engine.begin() as conn:
        await conn.execute(sa.insert(Category), [{"id": 1, "slug": "science", "name": "Science"}])
        ids = sorted({row[1] for row in HISTORY})
        await conn.execute(sa.insert(Article), [article_row(i) for i in ids])
        revisions = [
            {"article_id": a, "number": n, "created_at": at, "snapshot": snap}
            for _, a, n, _, at, snap in HISTORY
            if snap is not None
        ]
        await conn.execute(sa.insert(Revision), revisions)
        await conn.execute(
            sa.insert(old_changes),
            [
                {"seq": s, "event": e, "article_id": a, "revision": n, "at": at}
                for s, a, n, e, at, _ in HISTORY
            ],
        )
    await run_alembic(fresh_engine, ("upgrade", THIS))
    async with fresh_engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT seq, category, shared_in, was_shared_in, logged_at FROM changes ORDER BY seq"
            )
        )
        found = {seq: tuple(rest) for seq, *rest in rows}
    assert found == {
        1: ("science", None, None, None),
        2: ("science", "science", None, None),
        3: ("science", None, "science", None),
        4: ("science", None, None, None),  # never syndicated
        5: ("science", None, None, None),  # under embargo when written
        6: ("science", "science", None, None),  # lifted: the scheduled revision, now due
        7: (None, None, None, None),  # nothing to judge by: read as the article is now
    }
