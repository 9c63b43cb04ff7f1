"""Maintained article counts: each write adds the article's new contribution and takes back its old one.

Two tables (app/models/stats.py) hold the counts, updated in the write's own transaction:
`stats_daily` (live articles per publication day) and `stats_term_counts` (articles per
category, author and tag, per bucket). Published and scheduled articles share the `live`
bucket because an embargo lifts without any write; readers split live articles into
public and scheduled by comparing `published_at` with now, over the (small, indexed) set
of articles whose time has not come yet (`future_live`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Executable,
    Select,
    bindparam,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.db import adding_upsert, table_of
from app.models import (
    Article,
    ArticleAuthor,
    ArticleStatus,
    ArticleTag,
    StatsDaily,
    StatsTermCount,
)

LIVE = "live"
LIVE_STATUSES = (ArticleStatus.PUBLISHED.value, ArticleStatus.SCHEDULED.value)
KINDS = ("category", "author", "tag")
ID_CHUNK = 500  # ids per IN list when counting bulk-loaded articles
ADVISORY_LOCK = 0x5374617473  # "Stats": see `apply`
BATCH = "byline.stats.batch"  # in a session's (or connection's) info: see `batch`

Executor = AsyncSession | AsyncConnection
TermKey = tuple[str, int, str]  # (kind, term id, bucket)


def bucket_of(status: str) -> str:
    return LIVE if status in LIVE_STATUSES else status


def day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date()


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one article adds to the counts."""

    bucket: str
    day: dt.date | None  # the UTC publication day, for live articles only
    category_id: int
    author_ids: frozenset[int]
    tag_ids: frozenset[int]

    def terms(self) -> Iterable[TermKey]:
        yield ("category", self.category_id, self.bucket)
        yield from (("author", author_id, self.bucket) for author_id in self.author_ids)
        yield from (("tag", tag_id, self.bucket) for tag_id in self.tag_ids)


def contribution(
    status: str, published_at: dt.datetime | None, category_id: int,
    author_ids: Iterable[int], tag_ids: Iterable[int],
) -> Contribution:  # fmt: skip
    bucket = bucket_of(status)
    day = day_of(published_at) if bucket == LIVE and published_at is not None else None
    return Contribution(bucket, day, category_id, frozenset(author_ids), frozenset(tag_ids))


@dataclass(slots=True)
class Delta:
    days: Counter[dt.date]
    terms: Counter[TermKey]

    @classmethod
    def between(cls, old: Iterable[Contribution], new: Iterable[Contribution]) -> Delta:
        delta = cls(Counter(), Counter())
        for sign, contributions in ((-1, old), (1, new)):
            for part in contributions:
                if part.day is not None:
                    delta.days[part.day] += sign
                for key in part.terms():
                    delta.terms[key] += sign
        return delta


def _links_lookup() -> CompoundSelect[int, str, int]:
    """Author and tag ids of a set of articles in one statement, built once."""
    ids: BindParameter[list[str]] = bindparam("ids", expanding=True)
    return union_all(
        select(literal(0).label("kind"), ArticleAuthor.article_id, ArticleAuthor.author_id).where(
            ArticleAuthor.article_id.in_(ids)
        ),
        select(literal(1).label("kind"), ArticleTag.article_id, ArticleTag.tag_id).where(
            ArticleTag.article_id.in_(ids)
        ),
    )


LINKS_LOOKUP = _links_lookup()
ROWS_LOOKUP = select(Article.id, Article.status, Article.published_at, Article.category_id).where(
    Article.id.in_(bindparam("ids", expanding=True))
)


async def load_contributions(db: Executor, ids: Sequence[str]) -> dict[str, Contribution]:
    """The stored contributions of these articles (those that exist)."""
    if not ids:
        return {}
    links: dict[str, tuple[list[int], list[int]]] = {article_id: ([], []) for article_id in ids}
    for kind, article_id, term_id in await db.execute(LINKS_LOOKUP, {"ids": list(ids)}):
        links[article_id][kind].append(term_id)
    return {
        article_id: contribution(status, published_at, category_id, *links[article_id])
        for article_id, status, published_at, category_id in await db.execute(
            ROWS_LOOKUP, {"ids": list(ids)}
        )
    }


async def count_write(db: Executor, old: Contribution | None, new: Contribution) -> None:
    """Move one article's counts from its old contribution to its new one (often a no-op)."""
    if old == new:
        return
    await apply(db, Delta.between([old] if old else [], [new]))


async def count_new_articles(db: Executor, ids: Sequence[str]) -> None:
    """Add articles written in bulk (not through write_view) to the counts.

    One `apply` per call: concurrent loaders then lock the count rows in one global order.
    """
    found: list[Contribution] = []
    for start in range(0, len(ids), ID_CHUNK):
        found.extend((await load_contributions(db, ids[start : start + ID_CHUNK])).values())
    await apply(db, Delta.between([], found))


@contextlib.contextmanager
def batch(db: Executor) -> Iterator[None]:
    """Within this block the transaction may apply several deltas (see `apply`)."""
    db.info[BATCH] = True
    try:
        yield
    finally:
        db.info.pop(BATCH, None)


async def apply(db: Executor, delta: Delta) -> None:
    """Add the delta to the stored counts, rows in key order (so writers never deadlock)."""
    days = [{"day": day, "count": n} for day, n in sorted(delta.days.items()) if n]
    terms = [
        {"kind": kind, "term_id": term_id, "bucket": bucket, "count": n}
        for (kind, term_id, bucket), n in sorted(delta.terms.items())
        if n
    ]
    dialect = _dialect(db)
    if dialect == "postgresql" and (days or terms):
        # A transaction that applies one delta locks its count rows in key order, so such
        # transactions cannot deadlock each other and only share this lock. One that applies
        # several (an NDJSON import, a line at a time) does not lock in one order overall:
        # it takes the lock exclusively, from its first delta to its commit, so it waits for
        # the others to finish instead of deadlocking with them.
        lock = (
            func.pg_advisory_xact_lock if db.info.get(BATCH) else func.pg_advisory_xact_lock_shared
        )
        await db.execute(select(lock(ADVISORY_LOCK)))
    if days:
        await db.execute(_adding(dialect, StatsDaily, ["day"]), days)
    if terms:
        await db.execute(_adding(dialect, StatsTermCount, ["kind", "term_id", "bucket"]), terms)


def _dialect(db: Executor) -> str:
    if isinstance(db, AsyncSession):
        return db.get_bind().dialect.name
    return db.dialect.name


def _adding(
    dialect: str, model: type[StatsDaily] | type[StatsTermCount], keys: list[str]
) -> Executable:
    return adding_upsert(dialect, table_of(model), keys)


# ---- reading: live counts split at `now`


def is_future_live(now: dt.datetime) -> ColumnElement[bool]:
    """Live articles whose publication time has not come (served by ix_articles_published_at_id)."""
    # The status goes through coalesce() so that no planner picks the status index, which
    # matches most of the table, over the published_at range, which matches only the few
    # scheduled articles (SQLite does without ANALYZE; PostgreSQL with stale statistics).
    return (Article.published_at > now) & func.coalesce(Article.status, "").in_(LIVE_STATUSES)


def future_ids(now: dt.datetime) -> Select[str]:
    return select(Article.id).where(is_future_live(now))


def stored_live_count(kind: str, term_id: Any) -> ColumnElement[int]:
    """The stored live count of one term, as a correlated subquery (0 when none)."""
    stored = (
        select(StatsTermCount.count)
        .where(
            StatsTermCount.kind == kind,
            StatsTermCount.term_id == term_id,
            StatsTermCount.bucket == LIVE,
        )
        .scalar_subquery()
    )
    return func.coalesce(stored, 0)


async def future_counts(db: Executor, kind: str, now: dt.datetime) -> Counter[int]:
    """Per term: live articles not public yet (to take from the stored live counts).

    Counted here rather than by GROUP BY, which would tempt SQLite into walking a whole
    index in group order instead of the short published_at range.
    """
    stmt: Select[int]
    if kind == "category":
        stmt = select(Article.category_id).where(is_future_live(now))
    else:
        link_col = ArticleAuthor.author_id if kind == "author" else ArticleTag.tag_id
        article_col = ArticleAuthor.article_id if kind == "author" else ArticleTag.article_id
        stmt = select(link_col).where(article_col.in_(future_ids(now)))
    return Counter(await db.scalars(stmt))
