"""The one read model of an article, loaded once and turned into every output face."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.models import Article, ArticleAuthor, ArticleStatus, ArticleTag


@dataclass(frozen=True, slots=True)
class RefView:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class SectionView:
    heading: str | None
    paragraphs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CorrectionView:
    published_at: dt.datetime
    text: str


@dataclass(frozen=True, slots=True)
class ArticleView:
    """Everything about one revision of an article; immutable, so it can be cached."""

    id: str
    slug: str
    headline: str
    dek: str | None
    category: RefView
    authors: tuple[RefView, ...]
    status: str
    published_at: dt.datetime | None  # in the offset the article was filed with
    updated_at: dt.datetime
    created_at: dt.datetime
    embargo_until: dt.datetime | None
    language: str
    takeaways: tuple[str, ...]
    sections: tuple[SectionView, ...]
    tags: tuple[RefView, ...]
    word_count: int
    reading_time_minutes: int
    revision: int
    corrections: tuple[CorrectionView, ...]
    copyright_holder: str
    usage_terms: str
    syndication: bool
    retracted_at: dt.datetime | None
    deleted_at: dt.datetime | None
    tombstone_reason: str | None

    def is_public(self, now: dt.datetime) -> bool:
        """Published, or scheduled with its embargo already lifted."""
        if self.status not in (ArticleStatus.PUBLISHED, ArticleStatus.SCHEDULED):
            return False
        return self.published_at is not None and self.published_at <= now

    @property
    def is_tombstone(self) -> bool:
        return self.status in (ArticleStatus.RETRACTED, ArticleStatus.DELETED)

    def modified_at(self, now: dt.datetime) -> dt.datetime:
        """When the article last changed for its readers: its last write, or the moment its
        embargo lifted if that came later (a lift writes nothing). A client syncing by
        `updated_since` must be shown the article from the moment it became visible; the
        same rule as the syndication formats (app/syndication/dates.py)."""
        if self.published_at is not None and self.is_public(now):
            return max(self.updated_at, self.published_at.astimezone(dt.UTC))
        return self.updated_at


def filed_time(instant: dt.datetime | None, offset_minutes: int | None) -> dt.datetime | None:
    """Give an instant back in the UTC offset it was filed with."""
    if instant is None:
        return None
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes or 0))
    return instant.astimezone(zone)


def view_of(article: Article) -> ArticleView:
    """Build the read model from an article whose parts are loaded."""
    return ArticleView(
        id=article.id,
        slug=article.slug,
        headline=article.headline,
        dek=article.dek,
        category=RefView(article.category.slug, article.category.name),
        authors=tuple(RefView(link.author.slug, link.author.name) for link in article.authors),
        status=article.status,
        published_at=filed_time(article.published_at, article.published_offset),
        updated_at=article.updated_at,
        created_at=article.created_at,
        embargo_until=filed_time(article.embargo_until, article.published_offset),
        language=article.language,
        takeaways=tuple(t.text for t in article.takeaways),
        sections=tuple(SectionView(s.heading, tuple(s.paragraphs)) for s in article.sections),
        tags=tuple(RefView(link.tag.slug, link.tag.name) for link in article.tags),
        word_count=article.word_count,
        reading_time_minutes=article.reading_time_minutes,
        revision=article.revision,
        corrections=tuple(CorrectionView(c.published_at, c.text) for c in article.corrections),
        copyright_holder=article.copyright_holder,
        usage_terms=article.usage_terms,
        syndication=article.syndication,
        retracted_at=article.retracted_at,
        deleted_at=article.deleted_at,
        tombstone_reason=article.tombstone_reason,
    )


LOAD_PARTS = (
    selectinload(Article.category),
    selectinload(Article.authors).selectinload(ArticleAuthor.author),
    selectinload(Article.tags).selectinload(ArticleTag.tag),
    selectinload(Article.sections),
    selectinload(Article.takeaways),
    selectinload(Article.corrections),
)


async def load_views(session: AsyncSession, ids: Sequence[str]) -> dict[str, ArticleView]:
    """Load the read models of many articles in a fixed number of queries."""
    if not ids:
        return {}
    rows = await session.scalars(select(Article).where(Article.id.in_(ids)).options(*LOAD_PARTS))
    return {article.id: view_of(article) for article in rows}


class ViewCache:
    """Read models by (id, revision), least recently used out first.

    A revision never changes, so an entry can never be stale: a write makes a new
    revision, and lists ask for the revision they found in the database.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._views: OrderedDict[tuple[str, int], ArticleView] = OrderedDict()

    def get(self, article_id: str, revision: int) -> ArticleView | None:
        view = self._views.get((article_id, revision))
        if view is not None:
            self._views.move_to_end((article_id, revision))
        return view

    def put(self, view: ArticleView) -> None:
        if self.max_entries <= 0:
            return
        self._views[(view.id, view.revision)] = view
        while len(self._views) > self.max_entries:
            self._views.popitem(last=False)


async def load_revisions(
    session: AsyncSession, keys: Sequence[tuple[str, int]], cache: ViewCache | None
) -> list[ArticleView]:
    """The read models of (id, revision) pairs, in order, loading only what the cache lacks."""
    found = {key: cache.get(*key) for key in keys} if cache else dict.fromkeys(keys)
    missing = [article_id for (article_id, _), view in found.items() if view is None]
    loaded = await load_views(session, missing)
    for view in loaded.values():
        found[(view.id, view.revision)] = view
        if cache:
            cache.put(view)
    # A row can change between the keyset query and the load; the loaded revision wins.
    latest = {article_id: view for (article_id, _), view in found.items() if view}
    latest.update(loaded)
    return [latest[article_id] for article_id, _ in keys if article_id in latest]


# ---- faces: pure functions from the read model to plain data


def iso_time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    # Server-made times are UTC and written with Z; filed times keep their offset.
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _ref(ref: RefView) -> dict[str, str]:
    return {"slug": ref.slug, "name": ref.name}


def etag_of(view: ArticleView, now: dt.datetime) -> str:
    """The strong ETag of an article's full representation: its id and revision.

    Until its embargo lifts, a scheduled article (seen only by editors) shows `scheduled`;
    from that instant it shows `published` at the same revision (the lift writes none), so
    the embargoed face has a tag of its own: an editor's copy from before the lift is stale
    after it (a 412 on If-Match, a 200 on If-None-Match)."""
    if view.status == ArticleStatus.SCHEDULED.value and not view.is_public(now):
        return f'"{view.id}.{view.revision}.embargoed"'
    return f'"{view.id}.{view.revision}"'


def links_of(view: ArticleView, base_url: str) -> dict[str, str]:
    return _links(view.id, base_url)


def _links(article_id: str, base_url: str) -> dict[str, str]:
    api = f"{base_url}/v1/articles/{article_id}"
    return {"self": api, "ninjs": f"{api}/ninjs", "jsonld": f"{api}/jsonld"}


def canonical_url(view: ArticleView, base_url: str) -> str:
    return _url(view.slug, base_url)


def _url(slug: str, base_url: str) -> str:
    return f"{base_url}/articles/{slug}"


def public_status(view: ArticleView, now: dt.datetime) -> str:
    return ArticleStatus.PUBLISHED.value if view.is_public(now) else view.status


def full_face(view: ArticleView, base_url: str, now: dt.datetime) -> dict[str, Any]:
    """The v1 full representation (API.md section 2): the summary and the rest, in order."""
    rest = {
        "status": public_status(view, now),
        "embargo_until": iso_time(view.embargo_until),
        "language": view.language,
        "sections": [
            {"heading": s.heading, "paragraphs": list(s.paragraphs)} for s in view.sections
        ],
        "tags": [_ref(t) for t in view.tags],
        "reading_time_minutes": view.reading_time_minutes,
        "revision": view.revision,
        "corrections": [
            {"published_at": iso_time(c.published_at), "text": c.text} for c in view.corrections
        ],
        "rights": {
            "copyright_holder": view.copyright_holder,
            "usage_terms": view.usage_terms,
            "syndication": view.syndication,
        },
    }
    merged = {**summary_face(view, base_url, now), **rest}
    return {name: merged[name] for name in FULL_FIELDS}


SUMMARY_FIELDS = (
    "id", "slug", "url", "headline", "dek", "category", "authors",
    "published_at", "updated_at", "takeaways", "word_count", "links",
)  # fmt: skip
FULL_FIELDS = (
    "id", "slug", "url", "headline", "dek", "category", "authors", "status", "published_at",
    "updated_at", "embargo_until", "language", "takeaways", "sections", "tags", "word_count",
    "reading_time_minutes", "revision", "corrections", "rights", "links",
)  # fmt: skip


def summary_face(
    view: ArticleView, base_url: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The v1 summary used in lists; given `now`, `updated_at` counts a lifted embargo
    (ArticleView.modified_at), as the lists' `updated_since` and `updated_at` sorts do."""
    updated = view.updated_at if now is None else view.modified_at(now)
    return {
        "id": view.id,
        "slug": view.slug,
        "url": canonical_url(view, base_url),
        "headline": view.headline,
        "dek": view.dek,
        "category": _ref(view.category),
        "authors": [_ref(a) for a in view.authors],
        "published_at": iso_time(view.published_at),
        "updated_at": iso_time(updated),
        "takeaways": list(view.takeaways),
        "word_count": view.word_count,
        "links": links_of(view, base_url),
    }


def tombstone_face(view: ArticleView) -> dict[str, Any]:
    body: dict[str, Any] = {"id": view.id, "slug": view.slug, "status": view.status}
    if view.status == ArticleStatus.DELETED:
        body["deleted_at"] = iso_time(view.deleted_at)
    else:
        body["retracted_at"] = iso_time(view.retracted_at)
    body["reason"] = view.tombstone_reason
    return body


def snapshot_face(view: ArticleView) -> dict[str, Any]:
    """What a revision stores: the article exactly as it was, independent of configuration."""
    face = full_face(view, "", view.updated_at)
    face["status"] = view.status
    for derived in ("url", "links"):
        face.pop(derived)
    return face


def revision_face(snapshot: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A stored revision in the full representation: the snapshot, with `url` and `links`
    made from today's configuration (they were left out of it for that reason)."""
    derived = {
        "url": _url(snapshot["slug"], base_url),
        "links": _links(snapshot["id"], base_url),
    }
    merged = {**snapshot, **derived}
    return {name: merged[name] for name in FULL_FIELDS if name in merged}
