"""The export: every article a key may see, as NDJSON, read in keyset batches (constant memory).

Each batch is one short read (its own session, so no transaction stays open while a slow
client reads) of up to BATCH ids in (updated_at, id) order, then their read models. A
row can change between the two reads, so each loaded article is checked again before it
is written out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.articles.readmodel import ArticleView, full_face, load_views
from app.articles.service import modified_since, visible
from app.changes.service import Reader
from app.models import Article, ArticleStatus, Category

BATCH = 50  # articles per read: a batch of read models is the bulk of the memory used
CHUNK = 64 * 1024  # bytes per piece of the response
EDITOR_STATUSES = (
    ArticleStatus.DRAFT.value,
    ArticleStatus.SCHEDULED.value,
    ArticleStatus.PUBLISHED.value,
)


@dataclass(frozen=True, slots=True)
class ExportQuery:
    reader: Reader
    since: dt.datetime | None  # only articles changed for readers at or after since
    now: dt.datetime  # visibility is judged once, when the export starts
    base_url: str


def _filters(query: ExportQuery) -> list[ColumnElement[bool]]:
    reader = query.reader
    if reader.editor:
        clauses: list[ColumnElement[bool]] = [Article.status.in_(EDITOR_STATUSES)]
    else:
        clauses = [visible(query.now), Article.syndication.is_(True)]
    if reader.categories is not None:
        allowed = select(Category.id).where(Category.slug.in_(reader.categories))
        clauses.append(Article.category_id.in_(allowed))
    if query.since is not None:
        clauses.append(modified_since(query.since, query.now))  # a lifted embargo counts
    return clauses


def _still_visible(view: ArticleView, query: ExportQuery) -> bool:
    reader = query.reader
    if not reader.allows(view.category.slug):
        return False
    if reader.editor:
        return view.status in EDITOR_STATUSES
    return view.syndication and view.is_public(query.now)


async def _batch(
    session: AsyncSession, query: ExportQuery, after: tuple[dt.datetime, str] | None
) -> tuple[list[ArticleView], tuple[dt.datetime, str] | None]:
    """The next batch's read models, and the keyset position after it (None: the end)."""
    stmt = select(Article.id, Article.updated_at).where(*_filters(query))
    if after is not None:
        stmt = stmt.where(tuple_(Article.updated_at, Article.id) > tuple_(*after))
    rows = (await session.execute(stmt.order_by(Article.updated_at, Article.id).limit(BATCH))).all()
    if not rows:
        return [], None
    views = await load_views(session, [row.id for row in rows])
    ordered = [views[row.id] for row in rows if row.id in views]
    return [v for v in ordered if _still_visible(v, query)], (rows[-1].updated_at, rows[-1].id)


async def lines(
    sessions: async_sessionmaker[AsyncSession], query: ExportQuery
) -> AsyncIterator[bytes]:
    """NDJSON: the full representation of each article, one per line, in chunks of ~CHUNK bytes.

    Small chunks keep the server's memory flat: large, varying buffers fragment the heap.
    """
    position: tuple[dt.datetime, str] | None = None
    while True:
        async with sessions() as session:
            views, position = await _batch(session, query, position)
        if position is None:
            return
        pending: list[bytes] = []
        size = 0
        for view in views:
            line = orjson.dumps(
                full_face(view, query.base_url, query.now), option=orjson.OPT_APPEND_NEWLINE
            )
            pending.append(line)
            size += len(line)
            if size >= CHUNK:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)
