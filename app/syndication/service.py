"""What the syndication formats read from the database: feed items, categories, and timing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.articles.readmodel import ArticleView, RefView, ViewCache, load_revisions
from app.articles.service import VISIBLE_STATUSES, visible
from app.models import Article, Category, Change
from app.syndication.rules import Audience


async def category(session: AsyncSession, slug: str) -> RefView | None:
    row = (
        await session.execute(select(Category.slug, Category.name).where(Category.slug == slug))
    ).first()
    return RefView(row.slug, row.name) if row else None


async def feed_items(
    session: AsyncSession, *, category_slug: str | None, audience: Audience, limit: int,
    now: dt.datetime, views: ViewCache | None,
) -> list[ArticleView]:  # fmt: skip
    """The newest visible articles this audience may receive, newest first."""
    stmt = select(Article.id, Article.revision).where(visible(now))
    if category_slug is not None:
        stmt = stmt.where(Article.category_id == _category_id(category_slug))
    if audience.categories is not None:
        allowed = select(Category.id).where(Category.slug.in_(audience.categories))
        stmt = stmt.where(Article.category_id.in_(allowed))
    if audience.partner:
        stmt = stmt.where(Article.syndication.is_(True))
    stmt = stmt.order_by(Article.published_at.desc(), Article.id.desc()).limit(limit)
    rows = (await session.execute(stmt)).all()
    return await load_revisions(session, [(row[0], row[1]) for row in rows], views)


def _category_id(slug: str) -> ScalarSelect[int]:
    return select(Category.id).where(Category.slug == slug).scalar_subquery()


async def next_embargo_lift(session: AsyncSession, now: dt.datetime) -> dt.datetime | None:
    """When the next article due in the future becomes visible: feeds change then, unwritten.

    Scheduled articles, and published ones whose publication time was moved ahead.
    """
    return await session.scalar(
        select(func.min(Article.published_at)).where(
            Article.status.in_(VISIBLE_STATUSES), Article.published_at > now
        )
    )


async def last_change(session: AsyncSession) -> dt.datetime | None:
    """The time of the newest change-log row: no feed changed later than this, or an embargo."""
    return await session.scalar(select(Change.at).order_by(Change.seq.desc()).limit(1))
