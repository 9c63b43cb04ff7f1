"""The change feed's rules: who sees which change, under which name, and how far is safe to read.

Visibility (docs/CHANGES.md). Keys with `write` read the whole log. Everyone else is a
partner, and sees a change when the article was visible to them just before it or just
after it: published (or its embargo lifted), `rights.syndication` true and in one of the
key's categories. The event is named from the partner's side: an article that enters
their view is `published`, one that leaves it is `unpublished` (or `retracted`/`deleted`
when that is what happened), and the rest keep their name. So drafts, scheduled articles
and non-syndicated ones never show, and an article a partner had never silently vanishes.

Safe reading. On PostgreSQL a sequence number is taken before its transaction commits,
so seq 11 can become visible after seq 12. A reader only goes up to the "settled
ceiling": the highest seq below which every missing number is either committed or old
enough (GAP_GRACE) to be a rolled-back insert. SQLite has one writer at a time, so there
every committed seq is settled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, null, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.service import KeyInfo
from app.articles.readmodel import ArticleView
from app.core.db import AnySelect
from app.core.errors import invalid_param
from app.models import Article, ArticleStatus, Category, Change, ChangeEvent

GAP_GRACE = dt.timedelta(seconds=10)  # a gap whose successor was logged longer ago: rolled back
GAP_WINDOW = 1_000  # how many of the newest seqs are searched for young gaps
PUBLIC_STATUSES = (ArticleStatus.PUBLISHED.value, ArticleStatus.SCHEDULED.value)
LEAVING = (ChangeEvent.UNPUBLISHED, ChangeEvent.RETRACTED, ChangeEvent.DELETED)


# ---- written with each change (app/articles/writer.py)


def shared_in(view: ArticleView, at: dt.datetime | None = None) -> str | None:
    """The category partners can see this revision in at `at` (when written), or None."""
    if view.syndication and view.is_public(at or view.updated_at):
        return view.category.slug
    return None


async def shared_now(session: AsyncSession, article_id: str, now: dt.datetime) -> str | None:
    """The category partners can see the stored article in at `now` (before a write), or None."""
    stmt = (
        select(Category.slug)
        .join(Article, Article.category_id == Category.id)
        .where(Article.id == article_id, _partner_visible(now))
    )
    slug: str | None = await session.scalar(stmt)
    return slug


async def told_of_retraction(session: AsyncSession, article_id: str) -> str | None:
    """The category in which partners were told the article was retracted, or None.

    They hold its tombstone, so a later deletion concerns them though the retracted
    article is not visible to them (before a delete: app/articles/writer.py).
    """
    stmt = (
        select(Change.was_shared_in)
        .where(Change.article_id == article_id, Change.event == ChangeEvent.RETRACTED.value)
        .order_by(Change.seq.desc())
        .limit(1)
    )
    slug: str | None = await session.scalar(stmt)
    return slug


def audience(
    view: ArticleView, was_shared_in: str | None, at: dt.datetime | None = None
) -> dict[str, str | None]:
    """The visibility columns of the change row for this revision at `at` (when written)."""
    return {
        "category": view.category.slug,
        "shared_in": shared_in(view, at),
        "was_shared_in": was_shared_in,
    }


def _partner_visible(now: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Article.status.in_(PUBLIC_STATUSES),
        Article.published_at <= now,
        Article.syndication.is_(True),
    )


# ---- who reads


@dataclass(frozen=True, slots=True)
class Reader:
    """What a key may read of the log: everything (editors) or a partner's view."""

    editor: bool
    categories: tuple[str, ...] | None  # None: every category

    @classmethod
    def of(cls, key: KeyInfo) -> Reader:
        return cls("write" in key.scopes, key.categories)

    def allows(self, category: str | None) -> bool:
        if category is None:
            return False
        return self.categories is None or category in self.categories


@dataclass(frozen=True, slots=True)
class Entry:
    """One change-log row with who could see the article before and after it."""

    seq: int
    event: str
    article_id: str
    revision: int
    at: dt.datetime
    category: str | None
    shared_in: str | None
    was_shared_in: str | None


def presented(entry: Entry, reader: Reader) -> str | None:
    """The event's name for this reader, or None if the reader must not see it."""
    if reader.editor:
        if not reader.allows(entry.category):
            return None
        # `created` is internal; to the outside a new draft is an update of revision 1.
        return ChangeEvent.UPDATED if entry.event == ChangeEvent.CREATED else entry.event
    before = reader.allows(entry.was_shared_in)
    after = reader.allows(entry.shared_in)
    if after:
        if not before:
            return ChangeEvent.PUBLISHED
        keeps = entry.event in (ChangeEvent.PUBLISHED, ChangeEvent.CORRECTED)
        return entry.event if keeps else ChangeEvent.UPDATED
    if before:
        return entry.event if entry.event in LEAVING else ChangeEvent.UNPUBLISHED
    return None


def entries_select(now: dt.datetime) -> tuple[AnySelect, Any, Any]:
    """Change rows as Entries, with the columns (category, shared_in) that filters need.

    Rows written without visibility columns are judged by the article as it is now.
    """
    recorded = Change.category.is_not(None)
    category = func.coalesce(Change.category, Category.slug)
    after = case(
        (recorded, Change.shared_in),
        (_partner_visible(now), Category.slug),
        else_=null(),
    )
    stmt = (
        select(
            Change.seq, Change.event, Change.article_id, Change.revision, Change.at,
            category.label("category"), after.label("shared_in"), Change.was_shared_in,
        )
        .select_from(Change)
        .outerjoin(Article, Article.id == Change.article_id)
        .outerjoin(Category, Category.id == Article.category_id)
    )  # fmt: skip
    return stmt, category, after


def reader_clause(reader: Reader, category: Any, after: Any) -> ColumnElement[bool]:
    """`presented(entry, reader) is not None`, in SQL, so that pages come back full."""
    if reader.editor:
        return true() if reader.categories is None else category.in_(reader.categories)
    if reader.categories is None:
        return or_(after.is_not(None), Change.was_shared_in.is_not(None))
    return or_(after.in_(reader.categories), Change.was_shared_in.in_(reader.categories))


def entry_of(row: Sequence[Any]) -> Entry:
    return Entry(*row)


# ---- how far is safe


async def settled_ceiling(
    session: AsyncSession, after: int, grace: dt.timedelta = GAP_GRACE
) -> int:
    """The highest seq (at least `after`) below which no change can still commit.

    A missing seq was taken before the next present one was logged; when that happened
    more than `grace` ago (by the database's clock), the missing one was rolled back.
    """
    top: int | None = await session.scalar(select(func.max(Change.seq)))
    if top is None or top <= after:
        return after
    if session.get_bind().dialect.name != "postgresql":
        return top  # one writer at a time: seqs commit in order
    lower = max(after, top - GAP_WINDOW)
    window = (
        select(
            Change.seq, Change.logged_at,
            func.lag(Change.seq).over(order_by=Change.seq).label("prev"),
        )
        .where(Change.seq > lower, Change.seq <= top)
        .subquery()
    )  # fmt: skip
    gap: ColumnElement[bool] = window.c.seq > func.coalesce(window.c.prev, lower) + 1
    if lower > after:  # the window does not reach `after`: its lowest row may follow a gap
        gap = or_(gap, window.c.prev.is_(None))
    first = (
        select(func.coalesce(window.c.prev, lower))
        .where(window.c.logged_at > func.clock_timestamp() - grace, gap)
        .order_by(window.c.seq)
        .limit(1)
    )
    blocked: int | None = await session.scalar(first)
    return top if blocked is None else blocked


# ---- reading a page


@dataclass(frozen=True, slots=True)
class Event:
    entry: Entry
    name: str

    def face(self) -> dict[str, Any]:
        e = self.entry
        at = e.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return {
            "seq": e.seq,
            "event": self.name,
            "article_id": e.article_id,
            "revision": e.revision,
            "at": at,
        }


@dataclass(frozen=True, slots=True)
class Scan:
    """Events found after a position, and how far the log was read (all of it settled)."""

    events: list[Event]
    read_to: int


def scan(entries: Sequence[Entry], reader: Reader, limit: int, read_to: int) -> Scan:
    """The first `limit` events this reader may see among entries read up to `read_to`."""
    events: list[Event] = []
    for entry in entries:
        name = presented(entry, reader)
        if name is None:
            continue
        events.append(Event(entry, name))
        if len(events) == limit:
            return Scan(events, entry.seq)
    return Scan(events, read_to)


async def read(
    session: AsyncSession, reader: Reader, after: int, limit: int, now: dt.datetime,
    grace: dt.timedelta = GAP_GRACE,
) -> Scan:  # fmt: skip
    """The reader's next events after seq `after`, from the database."""
    ceiling = await settled_ceiling(session, after, grace)
    if ceiling <= after:
        return Scan([], after)
    stmt, category, shared = entries_select(now)
    stmt = (
        stmt.where(
            Change.seq > after, Change.seq <= ceiling, reader_clause(reader, category, shared)
        )
        .order_by(Change.seq)
        .limit(limit)
    )
    entries = [entry_of(row) for row in await session.execute(stmt)]
    return scan(entries, reader, limit, entries[-1].seq if len(entries) == limit else ceiling)


async def log_entries(
    session: AsyncSession, after: int, upto: int, now: dt.datetime
) -> list[Entry]:
    """Every change in (after, upto], for the notifier's in-memory tail."""
    stmt, _, _ = entries_select(now)
    stmt = stmt.where(Change.seq > after, Change.seq <= upto).order_by(Change.seq)
    return [entry_of(row) for row in await session.execute(stmt)]


# ---- cursors


def parse_cursor(raw: str | None) -> int:
    """A cursor is the seq of the last change a reader was given (0: the start of the log)."""
    if raw is None:
        return 0
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise invalid_param(
            "since", "is not a change-feed cursor (give a next_cursor you were sent, or 0)"
        )
    return int(text)
