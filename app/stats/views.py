"""Reads recorded by frontends: counted in memory per (article, day), written in batches."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

from sqlalchemy import Executable, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.db import adding_upsert, session_scope, table_of
from app.core.periodic import every
from app.models import ArticleViewsDaily, ArticleViewsRecent, StatsState

MAX_REMEMBERED = 100_000  # (client, article) pairs kept per minute; beyond it, reads still count
ViewKey = tuple[str, dt.date]  # (article id, UTC day)
PERIODS = (1, 7, 30)  # days of the recent-read windows (most-read 1d, 7d, 30d)
WINDOW = "views_window"


class ViewCounter:
    """One count per client per article per minute, added to `article_views_daily` by `flush`."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], max_remembered: int = MAX_REMEMBERED
    ) -> None:
        self.sessions = sessions
        self.max_remembered = max_remembered
        self.pending: Counter[ViewKey] = Counter()
        self._minute = -1
        self._seen: set[tuple[str, str]] = set()  # this minute's (client, article id) pairs
        self._rolled = dt.date.min  # the last day this process moved the windows to

    def record(self, client: str, article_id: str, now: float | None = None) -> bool:
        """Count a read unless this client already read this article this minute."""
        moment = time.time() if now is None else now
        minute = int(moment // 60)
        if minute != self._minute:  # a new minute forgets the last: memory stays bounded
            self._minute = minute
            self._seen.clear()
        pair = (client, article_id)
        if pair in self._seen:
            return False
        if len(self._seen) < self.max_remembered:
            self._seen.add(pair)
        day = dt.datetime.fromtimestamp(moment, dt.UTC).date()
        self.pending[(article_id, day)] += 1
        return True

    async def flush(self, today: dt.date | None = None) -> None:
        today = today or dt.datetime.now(dt.UTC).date()
        if not self.pending and self._rolled == today:
            return  # nothing to write, and the windows already end today
        batch, self.pending = self.pending, Counter()
        try:
            async with session_scope(self.sessions) as session:
                await write_reads(session, batch, today)
            self._rolled = today
        except Exception:
            self.pending.update(batch)  # keep the counts for the next try
            raise

    async def run(self, interval: float) -> None:
        await every(interval, self.flush)


async def write_reads(session: AsyncSession, batch: Counter[ViewKey], today: dt.date) -> None:
    """Add reads to the daily table and to the recent windows, first moving those to today.

    The windows end on the day stored as `views_window`; the row is locked first, so
    flushes of several servers and the daily roll never interleave.
    """
    window_end = await _window_end(session, today)
    if window_end < today:
        await _roll(session, window_end, today)
    end = max(window_end, today)  # a server whose clock runs ahead may have rolled further
    if not batch:
        return
    daily = [
        {"day": day, "article_id": article_id, "count": n}
        for (article_id, day), n in sorted(batch.items())  # key order: no deadlocks
    ]
    await session.execute(_adding(session, ArticleViewsDaily, ["day", "article_id"]), daily)
    recent = [
        {"period": period, "article_id": article_id, "count": n}
        for period in PERIODS
        for (article_id, day), n in sorted(batch.items())
        if day > end - dt.timedelta(days=period)  # reads still inside this window
    ]
    if recent:
        await session.execute(
            _adding(session, ArticleViewsRecent, ["period", "article_id"]), recent
        )


async def _window_end(session: AsyncSession, today: dt.date) -> dt.date:
    """The day the windows end on, locked for this transaction (created as today if missing)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(StatsState).values(name=WINDOW, day=today).on_conflict_do_nothing()
    )
    stmt = select(StatsState.day).where(StatsState.name == WINDOW)
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    day = await session.scalar(stmt)
    assert day is not None  # inserted above if it was missing
    return day


async def _roll(session: AsyncSession, window_end: dt.date, today: dt.date) -> None:
    """Take out of each window the days that left it between `window_end` and today."""
    for period in PERIODS:
        leaving = (
            select(
                literal(period).label("period"),
                ArticleViewsDaily.article_id,
                -func.sum(ArticleViewsDaily.count),
            )
            .where(
                ArticleViewsDaily.day > window_end - dt.timedelta(days=period),
                ArticleViewsDaily.day <= today - dt.timedelta(days=period),
            )
            .group_by(ArticleViewsDaily.article_id)
        )
        rows = [
            {"period": p, "article_id": a, "count": n}
            for p, a, n in sorted(await session.execute(leaving), key=lambda r: r[1])
        ]
        if rows:
            await session.execute(
                _adding(session, ArticleViewsRecent, ["period", "article_id"]), rows
            )
    await session.execute(delete(ArticleViewsRecent).where(ArticleViewsRecent.count <= 0))
    await session.execute(update(StatsState).where(StatsState.name == WINDOW).values(day=today))


def _adding(
    session: AsyncSession,
    model: type[ArticleViewsDaily] | type[ArticleViewsRecent],
    keys: list[str],
) -> Executable:
    return adding_upsert(session.get_bind().dialect.name, table_of(model), keys)
