"""Statistics queries: over the maintained counts, usage and read tables, never a scan of articles."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.articles.readmodel import ViewCache, load_revisions, summary_face
from app.articles.service import visible
from app.models import (
    ApiKey,
    Article,
    ArticleStatus,
    ArticleViewsRecent,
    Author,
    Category,
    StatsDaily,
    StatsTermCount,
    Tag,
    UsageDaily,
)
from app.stats.aggregates import (
    LIVE,
    day_of,
    future_counts,
    is_future_live,
    stored_live_count,
)

PERIOD_DAYS = {"1d": 1, "7d": 7, "30d": 30}


async def overview(session: AsyncSession, now: dt.datetime) -> dict[str, Any]:
    """Articles by public status, and how many categories, authors and tags there are."""
    # Every article has exactly one category, so the category counts hold every article.
    buckets = select(StatsTermCount.bucket, func.sum(StatsTermCount.count)).where(
        StatsTermCount.kind == "category"
    )
    stored = {bucket: int(n) for bucket, n in await session.execute(buckets.group_by("bucket"))}
    # Counted here, not grouped in SQL: see aggregates.future_counts.
    waiting = Counter(await session.scalars(select(Article.status).where(is_future_live(now))))
    # As the article lists see it: `scheduled` is a status still waiting for its time.
    scheduled = waiting.get(ArticleStatus.SCHEDULED.value, 0)
    articles = {
        "published": stored.get(LIVE, 0) - sum(waiting.values()),
        "draft": stored.get(ArticleStatus.DRAFT.value, 0),
        "scheduled": scheduled,
        "retracted": stored.get(ArticleStatus.RETRACTED.value, 0),
        "deleted": stored.get(ArticleStatus.DELETED.value, 0),
    }
    totals = {
        name: await session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in (("categories", Category), ("authors", Author), ("tags", Tag))
    }
    return {"articles": articles, **totals}


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


async def publishing(
    session: AsyncSession, interval: str, first: dt.date, last: dt.date, now: dt.datetime
) -> list[dict[str, Any]]:
    """Articles made public per day (or week, from Monday), zero-filled, within [first, last]."""
    per_day: Counter[dt.date] = Counter()
    stored = select(StatsDaily.day, StatsDaily.count).where(StatsDaily.day.between(first, last))
    for day, n in await session.execute(stored):
        per_day[day] += n
    future = select(Article.published_at).where(is_future_live(now))
    for moment in await session.scalars(future):
        if moment is not None:  # always set on live articles
            per_day[day_of(moment)] -= 1  # live, but its time has not come
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    if interval == "day":
        return [{"period": day, "count": per_day[day]} for day in days]
    weeks: Counter[dt.date] = Counter()
    for day in days:
        weeks[monday_of(day)] += per_day[day]
    return [{"period": monday, "count": n} for monday, n in weeks.items()]


async def categories(session: AsyncSession, now: dt.datetime) -> list[dict[str, Any]]:
    """Every category with its public articles, most first."""
    stored = select(
        Category.id, Category.slug, Category.name, stored_live_count("category", Category.id)
    )
    future = await future_counts(session, "category", now)
    rows = [
        {"slug": slug, "name": name, "count": n - future[term_id]}
        for term_id, slug, name, n in await session.execute(stored)
    ]
    return sorted(rows, key=lambda row: (-row["count"], row["slug"]))


async def authors(session: AsyncSession, now: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """The `limit` authors with the most public articles (those with none are left out)."""
    future = await future_counts(session, "author", now)
    # Only authors of not-yet-public articles can drop in the order: fetching that many
    # more candidates than wanted is enough to find the true top `limit`.
    count = StatsTermCount.count
    stmt = (
        select(Author.id, Author.slug, Author.name, count)
        .join(StatsTermCount, StatsTermCount.term_id == Author.id)
        .where(StatsTermCount.kind == "author", StatsTermCount.bucket == LIVE, count > 0)
        .order_by(count.desc(), Author.slug)
        .limit(limit + len(future))
    )
    counted = [
        (n - future[term_id], slug, name) for term_id, slug, name, n in await session.execute(stmt)
    ]
    best = sorted((-n, slug, name) for n, slug, name in counted if n > 0)[:limit]
    return [{"slug": slug, "name": name, "count": -n} for n, slug, name in best]


async def usage(session: AsyncSession, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Requests per day, key, endpoint and status (what the servers have flushed so far)."""
    stmt = (
        select(
            UsageDaily.day,
            UsageDaily.key_id,
            ApiKey.name,
            UsageDaily.endpoint,
            UsageDaily.status,
            UsageDaily.count,
        )  # fmt: skip
        .outerjoin(ApiKey, ApiKey.id == UsageDaily.key_id)
        .where(UsageDaily.day.between(first, last))
        .order_by(UsageDaily.day, UsageDaily.key_id, UsageDaily.endpoint, UsageDaily.status)
    )
    return [
        {
            "day": day,
            "key_id": key_id or None,
            "key_name": name if key_id else None,
            "endpoint": endpoint,
            "status": status,
            "count": n,
        }  # fmt: skip
        for day, key_id, name, endpoint, status, n in await session.execute(stmt)
    ]


@dataclass(frozen=True, slots=True)
class MostReadQuery:
    period: str
    limit: int
    allowed_categories: Sequence[str] | None  # a key's category limit
    base_url: str


async def most_read(
    session: AsyncSession, query: MostReadQuery, now: dt.datetime, cache: ViewCache | None
) -> list[dict[str, Any]]:
    """The public articles read most in the last 1, 7 or 30 UTC days (today included).

    The windows are kept by the read counters' flushes (app/stats/views.py): ranked by an
    index, so this walks the best-read first and stops at `limit` public ones.
    """
    recent = ArticleViewsRecent
    stmt = (
        select(Article.id, Article.revision, recent.count)
        .select_from(recent)
        .join(Article, Article.id == recent.article_id)
        .where(recent.period == PERIOD_DAYS[query.period], recent.count > 0, visible(now))
        .order_by(recent.count.desc(), recent.article_id.desc())
        .limit(query.limit)
    )
    if query.allowed_categories is not None:
        allowed = select(Category.id).where(Category.slug.in_(query.allowed_categories))
        stmt = stmt.where(Article.category_id.in_(allowed))
    rows = (await session.execute(stmt)).all()
    loaded = await load_revisions(session, [(row[0], row[1]) for row in rows], cache)
    return [
        {"article": summary_face(view, query.base_url, now), "views": int(row[2])}
        for view, row in zip(loaded, rows, strict=True)
    ]
