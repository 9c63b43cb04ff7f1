"""Editorial writes: create, replace, patch, publish, unpublish, retract, delete, correct.

Each function runs inside the caller's transaction and writes the article, its new
revision and one change-log event together (app/articles/writer.py), or nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.articles.readmodel import (
    ArticleView,
    CorrectionView,
    etag_of,
    load_views,
    public_status,
    snapshot_face,
)
from app.articles.schemas import ArticleCreate, ArticleReplace
from app.articles.search import SearchIndex
from app.articles.service import find_id
from app.articles.writer import (
    Placement,
    StoredRefs,
    build_view,
    new_article_id,
    placement_of,
    published_for,
    resolve_references,
    slug_taken,
    unchanged,
    write_view,
)
from app.core.config import Settings
from app.core.errors import (
    Conflict,
    Gone,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    client_errors,
)
from app.models import Article, ArticleStatus, Change, ChangeEvent, FormerSlug, Revision

PUBLIC = (ArticleStatus.PUBLISHED.value, ArticleStatus.SCHEDULED.value)
STATUS_READ_ONLY = "is changed by POST /v1/articles/{id}/publish or /unpublish, not by PUT or PATCH"
TIME_KEPT = "cannot be removed from a published or scheduled article: give a new time, or unpublish it first"


@dataclass(frozen=True, slots=True)
class WriteContext:
    now: dt.datetime
    settings: Settings
    index: SearchIndex


async def current(session: AsyncSession, article_id: str) -> ArticleView:
    """The article as it is now, by id or slug; deleted articles are gone."""
    view = await _any(session, article_id)
    if view.status == ArticleStatus.DELETED:
        raise Gone(f"Article {view.id} was deleted.")
    return view


async def _slug_free(session: AsyncSession, slug: str, owner: str | None) -> None:
    taken = await session.scalar(select(Article.id).where(Article.slug == slug))
    if taken is not None and taken != owner:
        raise slug_taken(slug, taken)


async def _save(
    session: AsyncSession, old: ArticleView, new: ArticleView, event: ChangeEvent,
    ctx: WriteContext, refs: StoredRefs | None = None,
) -> ArticleView:  # fmt: skip
    """Write `new` as the next revision; a write that changes nothing writes nothing.

    API.md: the revision goes +1 on every change, so a no-op answers the current article
    (same revision, ETag and updated_at) and emits no event.
    """
    if unchanged(old, new):
        return old
    view = replace(new, revision=old.revision + 1, updated_at=ctx.now, created_at=old.created_at)
    await write_view(session, view, replaces=old.revision, event=event, index=ctx.index, refs=refs)
    return view


def _expect(view: ArticleView, if_match: str | None, now: dt.datetime) -> None:
    """If-Match: `*`, or a list of ETags one of which must be the article's current one.

    RFC 9110 section 13.1.1 compares If-Match strongly: a weak tag (W/"…") never matches.
    """
    if if_match is None or if_match.strip() == "*":
        return
    etag = etag_of(view, now)
    if etag not in (tag.strip() for tag in if_match.split(",")):
        raise PreconditionFailed(f"Article {view.id} is now at {etag}, not {if_match.strip()}.")


async def _to_change(
    session: AsyncSession, article_id: str, if_match: str | None, now: dt.datetime, *,
    editable: bool = True, required: bool = False,
) -> ArticleView:  # fmt: skip
    """The current article, checked against If-Match and (unless deleting) still editable.

    `required`: If-Match must be sent (the HTTP PUT and PATCH); asked after the lookup,
    so that an unknown article is a 404 whatever the headers.
    """
    old = await current(session, article_id)
    if required and if_match is None:
        raise PreconditionRequired("Send If-Match with the ETag of the revision you edited.")
    _expect(old, if_match, now)
    if editable:
        _editable(old)
    return old


def _editable(view: ArticleView) -> None:
    if view.is_tombstone:
        raise Conflict(f"Article {view.id} was {view.status}; it can no longer change.")


async def create(session: AsyncSession, data: ArticleCreate, ctx: WriteContext) -> ArticleView:
    """A new article (a draft unless `status` says published); 409 if the slug is taken."""
    data, refs = await resolve_references(session, data)
    placement = placement_of(data, None, ctx.now)
    view = build_view(
        data,
        article_id=new_article_id(),
        placement=placement,
        revision=1,
        created_at=ctx.now,
        now=ctx.now,
        settings=ctx.settings,
    )
    event = ChangeEvent.PUBLISHED if view.status == ArticleStatus.PUBLISHED else ChangeEvent.CREATED
    await write_view(session, view, replaces=None, event=event, index=ctx.index, refs=refs)
    return view


async def update(
    session: AsyncSession,
    article_id: str,
    data: ArticleCreate | ArticleReplace,
    if_match: str | None,
    ctx: WriteContext,
    *,
    if_match_required: bool = False,
) -> ArticleView:
    """Replace the content of an article (PUT); its status and history stay.

    What the body leaves out of the slug and the publication time stays as it is: a new
    headline does not move the article to a new address.
    """
    old = await _to_change(session, article_id, if_match, ctx.now, required=if_match_required)
    if isinstance(data, ArticleReplace):
        data = _as_replacing(data, old, ctx.now)
    kept = {"slug": data.slug or old.slug, "published_at": data.published_at or old.published_at}
    return await _rewrite(session, old, data.model_copy(update=kept), ctx)


def _as_replacing(data: ArticleReplace, old: ArticleView, now: dt.datetime) -> ArticleCreate:
    """The content of a PUT body that may be the representation itself, edited."""
    if data.id is not None and data.id != old.id:
        raise _invalid("id", f"is {old.id!r} for this article; an id never changes")
    if data.status is not None and data.status != public_status(old, now):
        raise _invalid("status", STATUS_READ_ONLY)
    return data.content()


async def patch(
    session: AsyncSession,
    article_id: str,
    changes: dict[str, Any],
    if_match: str | None,
    ctx: WriteContext,
    *,
    if_match_required: bool = False,
) -> ArticleView:
    """Apply a JSON Merge Patch (RFC 7396) to the article's input form, then rewrite it."""
    old = await _to_change(session, article_id, if_match, ctx.now, required=if_match_required)
    if "published_at" in changes and changes["published_at"] is None and old.status in PUBLIC:
        raise _invalid("published_at", TIME_KEPT)  # RFC 7396 null removes; this one stays
    merged = merge_patch(input_of(old), changes)
    try:
        data = ArticleCreate.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInput("The patched article is not valid.", _errors(exc)) from None
    return await _rewrite(session, old, data, ctx)


async def _retire_slug(session: AsyncSession, old: ArticleView, now: dt.datetime) -> None:
    """Remember the slug the article gives up, so that its old links lead to it (a 301).

    Only while no article holds the slug does a read look here, so a row shadowed by a
    later holder is harmless; when that holder gives the slug up in turn, it is theirs.
    """
    await session.execute(sa.delete(FormerSlug).where(FormerSlug.slug == old.slug))
    session.add(FormerSlug(slug=old.slug, article_id=old.id, retired_at=now))


async def _rewrite(
    session: AsyncSession, old: ArticleView, data: ArticleCreate, ctx: WriteContext
) -> ArticleView:
    """The article with this content (corrections and status kept), as its next revision."""
    if data.status is not None:  # read-only here, like `id`
        raise _invalid("status", STATUS_READ_ONLY)
    data, refs = await resolve_references(session, data)
    new = build_view(
        data,
        article_id=old.id,
        placement=_placement(old, data.published_at, ctx.now),
        revision=old.revision,
        created_at=old.created_at,
        now=ctx.now,
        settings=ctx.settings,
    )
    new = replace(new, corrections=old.corrections)
    if new.slug != old.slug:
        await _slug_free(session, new.slug, old.id)
        await _retire_slug(session, old, ctx.now)
    return await _save(session, old, new, _rewrite_event(old, new, ctx.now), ctx, refs)


def _placement(old: ArticleView, published_at: dt.datetime | None, now: dt.datetime) -> Placement:
    """Where new content leaves the article: a draft stays a draft; a published or
    scheduled article follows its publication time as on create (API.md section 9), so a
    time in the future schedules it (an embargo until then) and one that has come publishes it.
    """
    if old.status not in PUBLIC or published_at is None:
        return Placement(old.status, published_at, None)
    if published_at == old.published_at:  # the same instant (maybe in another offset): as it was
        return Placement(old.status, published_at, published_at if old.embargo_until else None)
    return published_for(published_at, now)


def _rewrite_event(old: ArticleView, new: ArticleView, now: dt.datetime) -> ChangeEvent:
    if new.is_public(now) and not old.is_public(now):
        return ChangeEvent.PUBLISHED  # an embargo moved into the past
    return ChangeEvent.UPDATED


async def publish(
    session: AsyncSession,
    article_id: str,
    at: dt.datetime | None,
    if_match: str | None,
    ctx: WriteContext,
) -> ArticleView:
    """Publish now, or schedule for `at` (an embargo: invisible until then).

    Publishing now what readers already see changes nothing (no second `published`).
    """
    old = await _to_change(session, article_id, if_match, ctx.now)
    if at is None and old.is_public(ctx.now):
        return old
    when = at or (old.published_at if old.published_at and old.published_at <= ctx.now else ctx.now)
    placement = published_for(when, ctx.now)
    new = replace(
        old,
        status=placement.status,
        published_at=placement.published_at,
        embargo_until=placement.embargo_until,
    )
    scheduled = placement.status == ArticleStatus.SCHEDULED
    event = ChangeEvent.UPDATED if scheduled else ChangeEvent.PUBLISHED
    return await _save(session, old, new, event, ctx)


async def unpublish(
    session: AsyncSession, article_id: str, if_match: str | None, ctx: WriteContext
) -> ArticleView:
    old = await _to_change(session, article_id, if_match, ctx.now)
    new = replace(old, status=ArticleStatus.DRAFT.value, embargo_until=None)
    return await _save(session, old, new, ChangeEvent.UNPUBLISHED, ctx)


async def retract(
    session: AsyncSession, article_id: str, reason: str, if_match: str | None, ctx: WriteContext
) -> ArticleView:
    """Withdraw a published article: readers and partners get its tombstone."""
    old = await _to_change(session, article_id, if_match, ctx.now)
    if old.status not in PUBLIC:
        raise Conflict(
            f"Article {old.id} is a {old.status}; only published articles can be retracted (unpublish or delete it)."
        )
    new = replace(
        old, status=ArticleStatus.RETRACTED.value, retracted_at=ctx.now, tombstone_reason=reason
    )
    return await _save(session, old, new, ChangeEvent.RETRACTED, ctx)


async def delete(
    session: AsyncSession,
    article_id: str,
    reason: str | None,
    if_match: str | None,
    ctx: WriteContext,
) -> ArticleView:
    old = await _to_change(session, article_id, if_match, ctx.now, editable=False)
    new = replace(
        old,
        status=ArticleStatus.DELETED.value,
        deleted_at=ctx.now,
        tombstone_reason=reason or old.tombstone_reason,
    )
    return await _save(session, old, new, ChangeEvent.DELETED, ctx)


async def correct(
    session: AsyncSession, article_id: str, text: str, if_match: str | None, ctx: WriteContext
) -> ArticleView:
    """Append a published correction (revision + 1)."""
    old = await _to_change(session, article_id, if_match, ctx.now)
    new = replace(old, corrections=(*old.corrections, CorrectionView(ctx.now, text)))
    return await _save(session, old, new, ChangeEvent.CORRECTED, ctx)


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    number: int
    created_at: dt.datetime
    event: str | None


async def revisions(
    session: AsyncSession, article_id: str
) -> tuple[ArticleView, list[RevisionInfo]]:
    view = await _any(session, article_id)
    # The event that made each revision: its first change. Later rows can name the same
    # revision (an embargo lift announces `published` without a new revision).
    made_by = (
        select(Change.event)
        .where(Change.article_id == Revision.article_id, Change.revision == Revision.number)
        .order_by(Change.seq)
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Revision.number, Revision.created_at, made_by)
        .where(Revision.article_id == view.id)
        .order_by(Revision.number)
    )
    return view, [RevisionInfo(n, at, event) for n, at, event in rows]


async def revision(session: AsyncSession, article_id: str, number: int) -> dict[str, Any]:
    """One revision exactly as it was stored."""
    view = await _any(session, article_id)
    snapshot: dict[str, Any] | None = await session.scalar(
        select(Revision.snapshot).where(Revision.article_id == view.id, Revision.number == number)
    )
    if snapshot is None:
        raise NotFound(f"Article {view.id} has no revision {number} (it is at {view.revision}).")
    return snapshot


async def _any(session: AsyncSession, article_id: str) -> ArticleView:
    found = await find_id(session, article_id)
    if found is None:
        raise NotFound(f"No article with id or slug {article_id!r}.")
    return (await load_views(session, [found]))[found]


# ---- JSON Merge Patch over the article's input form


def input_of(view: ArticleView) -> dict[str, Any]:
    """The article as ArticleCreate input: what PATCH merges into."""
    snapshot = snapshot_face(view)
    keep = (
        "slug",
        "headline",
        "dek",
        "category",
        "authors",
        "published_at",
        "language",
        "takeaways",
        "sections",
        "tags",
        "rights",
    )
    return {name: snapshot[name] for name in keep}


def merge_patch(target: object, patch: object) -> object:
    """RFC 7396: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def _invalid(field: str, msg: str) -> InvalidInput:
    return InvalidInput(f"{field}: {msg}.", [{"loc": ["body", field], "msg": msg}])


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return client_errors(exc.errors(), prefix=["body"])
