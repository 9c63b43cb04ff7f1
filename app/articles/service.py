"""Article rules and queries: upsert, get, list with filters/search/facets, related, taxonomies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.articles.readmodel import ArticleView, ViewCache, load_revisions, load_views
from app.articles.schemas import ArticleCreate
from app.articles.search import SearchIndex, terms_of
from app.articles.writer import (
    build_view,
    new_article_id,
    placement_of,
    resolve_references,
    same_content,
    write_view,
)
from app.core.config import Settings
from app.core.db import AnySelect
from app.core.errors import NotFound
from app.models import (
    Article,
    ArticleAuthor,
    ArticleStatus,
    ArticleTag,
    Author,
    Category,
    ChangeEvent,
    Tag,
)
from app.stats import aggregates

VISIBLE_STATUSES = (ArticleStatus.PUBLISHED.value, ArticleStatus.SCHEDULED.value)
SORTS = ("-published_at", "published_at", "-updated_at", "updated_at", "relevance")
FACETS = ("category", "author", "tag")
OVERFETCH = 5  # relevance pages rank this many times a page of best hits first


def visible(now: dt.datetime) -> ColumnElement[bool]:
    """Readers see published articles, and scheduled ones once their time has come."""
    return and_(Article.status.in_(VISIBLE_STATUSES), Article.published_at <= now)


# ---- writing


@dataclass(frozen=True, slots=True)
class UpsertResult:
    view: ArticleView
    created: bool
    changed: bool


async def upsert(
    session: AsyncSession,
    data: ArticleCreate,
    *,
    status: str | None,
    now: dt.datetime,
    settings: Settings,
    index: SearchIndex,
) -> UpsertResult:
    """Create the article with this slug, or make a new revision of it if its content changed."""
    data = await resolve_references(session, data)
    placement = placement_of(data, status, now)
    draft = build_view(
        data,
        article_id="",
        placement=placement,
        revision=1,
        created_at=now,
        now=now,
        settings=settings,
    )
    existing = await session.scalar(select(Article.id).where(Article.slug == draft.slug))
    if existing is None:
        view = build_view(
            data,
            article_id=new_article_id(),
            placement=placement,
            revision=1,
            created_at=now,
            now=now,
            settings=settings,
        )
        event = (
            ChangeEvent.PUBLISHED if view.status == ArticleStatus.PUBLISHED else ChangeEvent.CREATED
        )
        await write_view(session, view, replaces=None, event=event, index=index)
        return UpsertResult(view, created=True, changed=True)
    old = (await load_views(session, [existing]))[existing]
    view = build_view(
        data,
        article_id=old.id,
        placement=placement,
        revision=old.revision + 1,
        created_at=old.created_at,
        now=now,
        settings=settings,
    )
    if same_content(old, view):
        return UpsertResult(old, created=False, changed=False)
    event = _update_event(old, view)
    view = _keep_history(old, view)
    await write_view(session, view, replaces=old.revision, event=event, index=index)
    return UpsertResult(view, created=False, changed=True)


def _update_event(old: ArticleView, new: ArticleView) -> ChangeEvent:
    if new.status == ArticleStatus.PUBLISHED and old.status != ArticleStatus.PUBLISHED:
        return ChangeEvent.PUBLISHED
    return ChangeEvent.UPDATED


def _keep_history(old: ArticleView, new: ArticleView) -> ArticleView:
    """Corrections belong to the article's history, not to the copy being re-imported."""
    return replace(new, corrections=old.corrections)


# ---- reading one


async def find_id(session: AsyncSession, key: str) -> str | None:
    """An article's id from its id or its slug."""
    found = await session.scalar(select(Article.id).where(Article.id == key))
    if found is None:
        found = await session.scalar(select(Article.id).where(Article.slug == key))
    return found


async def get(
    session: AsyncSession, key: str, now: dt.datetime, *, editor: bool = False
) -> ArticleView:
    """What a reader may see of this id or slug: the public article, or its tombstone.

    Editors also see drafts and scheduled articles.
    """
    article_id = await find_id(session, key)
    if article_id is None:
        raise NotFound(f"No article with id or slug {key!r}.")
    view = (await load_views(session, [article_id]))[article_id]
    if not (view.is_tombstone or view.is_public(now) or editor):
        raise NotFound(f"No article with id or slug {key!r}.")
    return view


# ---- lists


@dataclass(slots=True)
class ListQuery:
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    q: str | None = None
    published_after: dt.datetime | None = None
    published_before: dt.datetime | None = None
    updated_since: dt.datetime | None = None
    sort: str = "-published_at"
    limit: int = 20
    after: list[Any] | None = None  # keyset values decoded from the cursor
    facets: list[str] = field(default_factory=list)
    include_total: bool = False
    statuses: list[str] = field(default_factory=lambda: ["published"])
    allowed_categories: tuple[str, ...] | None = None  # a key's category limit


@dataclass(slots=True)
class ListPage:
    views: list[ArticleView]
    next_key: list[Any] | None
    highlights: dict[str, str]
    total: int | None = None
    facets: dict[str, list[dict[str, Any]]] | None = None


def status_clause(statuses: Sequence[str], now: dt.datetime) -> ColumnElement[bool]:
    """Articles as readers see them: `scheduled` means still embargoed, `published` visible."""
    parts: list[ColumnElement[bool]] = []
    for status in statuses:
        if status == ArticleStatus.PUBLISHED:
            parts.append(visible(now))
        elif status == ArticleStatus.SCHEDULED:
            parts.append(and_(Article.status == status, Article.published_at > now))
        else:
            parts.append(Article.status == status)
    return or_(*parts)


def _cursor_implies_visible(query: ListQuery, now: dt.datetime) -> bool:
    """Newest-first pages after a cursor lie below a row that was already visible.

    Leaving out the redundant `published_at <= now` then leaves the row-value seek as the
    only range on the index, so SQLite seeks to the cursor instead of scanning down to it.
    """
    if query.statuses != ["published"] or query.sort != "-published_at" or not query.after:
        return False
    return dt.datetime.fromisoformat(query.after[0]) <= now


def _filters(
    query: ListQuery, now: dt.datetime, *, seeking: bool = False
) -> list[ColumnElement[bool]]:
    if seeking and _cursor_implies_visible(query, now):
        first: ColumnElement[bool] = Article.status.in_(VISIBLE_STATUSES)
    else:
        first = status_clause(query.statuses, now)
    clauses: list[ColumnElement[bool]] = [first]
    if query.allowed_categories is not None:
        allowed = select(Category.id).where(Category.slug.in_(query.allowed_categories))
        clauses.append(Article.category_id.in_(allowed))
    if query.categories:
        clauses.append(
            Article.category_id.in_(select(Category.id).where(Category.slug.in_(query.categories)))
        )
    if query.authors:
        by = select(ArticleAuthor.article_id).join(Author).where(Author.slug.in_(query.authors))
        clauses.append(exists(by.where(ArticleAuthor.article_id == Article.id)))
    if query.tags:
        tagged = select(ArticleTag.article_id).join(Tag).where(Tag.slug.in_(query.tags))
        clauses.append(exists(tagged.where(ArticleTag.article_id == Article.id)))
    if query.published_after is not None:
        clauses.append(Article.published_at > query.published_after)
    if query.published_before is not None:
        clauses.append(Article.published_at < query.published_before)
    if query.updated_since is not None:
        clauses.append(Article.updated_at >= query.updated_since)
    return clauses


def _keyset(query: ListQuery, hits: Any) -> tuple[list[Any], ColumnElement[bool] | None]:
    """ORDER BY columns and the row-value seek condition for the cursor."""
    if query.sort == "relevance" and hits is not None:
        cols: list[Any] = [hits.c.score, hits.c.tiebreak]
        return cols, (tuple_(*cols) > tuple_(*query.after)) if query.after else None
    column = Article.updated_at if query.sort.endswith("updated_at") else Article.published_at
    cols = [column, Article.id]
    if query.after is None:
        seek = None
    else:
        value = dt.datetime.fromisoformat(query.after[0])
        position = tuple_(*cols)
        seek = (
            position < tuple_(value, query.after[1])
            if query.sort.startswith("-")
            else position > tuple_(value, query.after[1])
        )
    if query.sort.startswith("-"):
        cols = [c.desc() for c in cols]
    return cols, seek


def _key_of(view: ArticleView, sort: str, rank: list[Any] | None) -> list[Any]:
    if sort == "relevance" and rank is not None:
        return rank  # (score, tiebreak) of the last hit
    moment = view.updated_at if sort.endswith("updated_at") else view.published_at
    assert moment is not None
    return [moment.astimezone(dt.UTC).isoformat(), view.id]


async def list_articles(
    session: AsyncSession,
    query: ListQuery,
    now: dt.datetime,
    index: SearchIndex,
    views_cache: ViewCache | None = None,
) -> ListPage:
    """One keyset page of visible articles, with optional highlights, total and facets."""
    terms = terms_of(query.q) if query.q else []
    if query.q is not None and not terms:
        return ListPage([], None, {}, 0 if query.include_total else None, _empty_facets(query))
    views, next_key = await _page(session, query, now, index, terms, views_cache)
    highlights = await index.highlights(session, terms, [v.id for v in views]) if terms else {}
    page = ListPage(views, next_key, highlights)
    if query.include_total or query.facets:
        everything, _ = _base_select(query, now, index, terms, seeking=False)
        if query.include_total:
            counted = everything.with_only_columns(Article.id).subquery()
            page.total = await session.scalar(select(func.count()).select_from(counted))
        if query.facets:
            page.facets = await _facets(session, everything, query.facets)
    return page


async def _page(
    session: AsyncSession, query: ListQuery, now: dt.datetime, index: SearchIndex,
    terms: list[str], views_cache: ViewCache | None,
) -> tuple[list[ArticleView], list[Any] | None]:  # fmt: skip
    """The page's read models, and the keyset position after it (None on the last page)."""
    relevance = bool(terms) and query.sort == "relevance"
    top = (query.limit + 1) * OVERFETCH if relevance else None
    rows = await _page_rows(session, query, now, index, terms, top)
    if top is not None and len(rows) <= query.limit:
        rows = await _page_rows(session, query, now, index, terms, None)  # short: be exact
    page_rows = rows[: query.limit]
    views = await load_revisions(session, [(row[0], row[1]) for row in page_rows], views_cache)
    if len(rows) <= query.limit or not views:
        return views, None
    return views, _key_of(views[-1], query.sort, list(page_rows[-1][2:4]) if relevance else None)


async def _page_rows(
    session: AsyncSession, query: ListQuery, now: dt.datetime, index: SearchIndex,
    terms: list[str], top: int | None,
) -> list[Any]:  # fmt: skip
    base, hits = _base_select(query, now, index, terms, seeking=True, top=top)
    order, seek = _keyset(query, hits)
    ranking = [hits.c.score, hits.c.tiebreak] if hits is not None else []
    columns: list[Any] = [Article.id, Article.revision, *ranking]
    stmt = base.with_only_columns(*columns).order_by(*order).limit(query.limit + 1)
    if seek is not None:
        stmt = stmt.where(seek)
    return list((await session.execute(stmt)).all())


def _base_select(
    query: ListQuery, now: dt.datetime, index: SearchIndex, terms: list[str], *,
    seeking: bool, top: int | None = None,
) -> tuple[AnySelect, Any]:  # fmt: skip
    """The filtered articles, joined to their search hits (returned too) when there is a query."""
    stmt = select(Article.id).where(*_filters(query, now, seeking=seeking))
    if not terms:
        return stmt, None
    # The best few hundred matches almost always hold the page (_page checks, and falls
    # back to every match); ranking every match of a common word is what makes search slow.
    found = index.matches(terms) if top is None else index.best(terms, query.after, top)
    hits = found.subquery("hits")
    stmt = stmt.join(hits, hits.c.article_id == Article.id)
    return stmt, hits


def _empty_facets(query: ListQuery) -> dict[str, list[dict[str, Any]]] | None:
    return {name: [] for name in query.facets} if query.facets else None


async def _facets(
    session: AsyncSession, base: AnySelect, names: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Counts over the whole filtered set, largest first."""
    matching = base.with_only_columns(Article.id).subquery("matching")
    result: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        stmt = _facet_select(name, matching)
        rows = await session.execute(stmt)
        result[name] = [
            {"slug": slug, "name": label, "count": count} for slug, label, count in rows
        ]
    return result


# For each facet: the model counted, the table linking it to articles, the article column.
FACET_SOURCES: dict[str, tuple[Any, Any, Any]] = {
    "category": (Category, Article, Article.id),
    "author": (Author, ArticleAuthor, ArticleAuthor.article_id),
    "tag": (Tag, ArticleTag, ArticleTag.article_id),
}


def _facet_select(name: str, matching: Any) -> AnySelect:
    model, link, article_id = FACET_SOURCES[name]
    return (
        select(model.slug, model.name, func.count())
        .select_from(link)
        .join(model)
        .join(matching, matching.c.id == article_id)
        .group_by(model.id, model.slug, model.name)
        .order_by(func.count().desc(), model.slug)
    )


# ---- related


async def related(
    session: AsyncSession,
    view: ArticleView,
    limit: int,
    now: dt.datetime,
    views_cache: ViewCache | None = None,
) -> list[ArticleView]:
    """Visible articles sharing tags (2 points each) or the category (1 point), best first."""
    tag_ids = select(ArticleTag.tag_id).where(ArticleTag.article_id == view.id)
    shared = (
        select(ArticleTag.article_id, func.count().label("shared"))
        .where(ArticleTag.tag_id.in_(tag_ids), ArticleTag.article_id != view.id)
        .group_by(ArticleTag.article_id)
        .subquery("shared")
    )
    category_id = select(Article.category_id).where(Article.id == view.id).scalar_subquery()
    score = func.coalesce(shared.c.shared, 0) * 2 + (Article.category_id == category_id).cast(
        Integer
    )
    stmt = (
        select(Article.id, Article.revision)
        .outerjoin(shared, shared.c.article_id == Article.id)
        .where(
            visible(now),
            Article.id != view.id,
            or_(shared.c.article_id.is_not(None), Article.category_id == category_id),
        )
        .order_by(score.desc(), Article.published_at.desc(), Article.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    return await load_revisions(session, [(row[0], row[1]) for row in rows], views_cache)


# ---- taxonomies


@dataclass(frozen=True, slots=True)
class TermCount:
    slug: str
    name: str
    article_count: int
    bio: str | None = None


async def categories(
    session: AsyncSession, now: dt.datetime, slug: str | None = None
) -> list[TermCount]:
    # Counts come from the maintained aggregates (app/stats/aggregates.py), not a scan.
    stmt = select(
        Category.id,
        Category.slug,
        Category.name,
        aggregates.stored_live_count("category", Category.id),
    ).order_by(Category.name, Category.slug)
    if slug is not None:
        stmt = stmt.where(Category.slug == slug)
    future = await aggregates.future_counts(session, "category", now)
    return [TermCount(s, n, c - future[i]) for i, s, n, c in await session.execute(stmt)]


async def authors(
    session: AsyncSession, now: dt.datetime, slug: str | None = None
) -> list[TermCount]:
    stmt = select(
        Author.id,
        Author.slug,
        Author.name,
        Author.bio,
        aggregates.stored_live_count("author", Author.id),
    ).order_by(Author.name, Author.slug)
    if slug is not None:
        stmt = stmt.where(Author.slug == slug)
    future = await aggregates.future_counts(session, "author", now)
    return [TermCount(s, n, c - future[i], bio=b) for i, s, n, b, c in await session.execute(stmt)]


async def tags(session: AsyncSession, now: dt.datetime) -> list[TermCount]:
    stmt = select(Tag.id, Tag.slug, Tag.name, aggregates.stored_live_count("tag", Tag.id)).order_by(
        Tag.name, Tag.slug
    )
    future = await aggregates.future_counts(session, "tag", now)
    return [TermCount(s, n, c - future[i]) for i, s, n, c in await session.execute(stmt)]
