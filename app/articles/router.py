"""The v1 read API for articles, categories, authors and tags."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.access.deps import CurrentKey
from app.access.service import KeyInfo
from app.articles import service
from app.articles.cache import CachedResponse, ListClock, ReadCache
from app.articles.readmodel import (
    FULL_FIELDS,
    SUMMARY_FIELDS,
    ArticleView,
    etag_of,
    full_face,
    public_status,
    summary_face,
    tombstone_face,
)
from app.articles.schemas import (
    ArticleFields,
    ArticleList,
    ArticleRead,
    AuthorList,
    AuthorRead,
    CategoryList,
    CategoryRead,
    RelatedList,
    TagList,
    Tombstone,
)
from app.core.config import Settings
from app.core.deps import AppSettings, Now, Session
from app.core.errors import MOVED_RESPONSE, Forbidden, NotFound, Unauthorized, invalid_param
from app.core.http import (
    PRIVATE_CACHE_CONTROL,
    decode_cursor,
    encode_cursor,
    etag_for,
    given_once,
    http_date,
    is_not_modified,
    json_bytes,
    public_cache_control,
)

router = APIRouter(prefix="/v1", tags=["articles"])
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
LIST_FIELDS = (*SUMMARY_FIELDS, "highlight", "status")
EDITOR_STATUSES = ("draft", "scheduled", "published", "retracted")

SortParam = Literal["-published_at", "published_at", "-updated_at", "updated_at", "relevance"]
Repeatable = Annotated[list[str] | None, Query()]


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _fields(raw: str | None, allowed: tuple[str, ...]) -> list[str] | None:
    if raw is None:
        return None
    names = _split([raw])
    if not names:
        raise invalid_param("fields", "must name at least one field")
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise invalid_param(
            "fields", f"unknown field(s) {', '.join(unknown)}; known: {', '.join(allowed)}"
        )
    return ["id", *[n for n in names if n != "id"]]


def _narrow(face: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    return face if fields is None else {name: face[name] for name in fields if name in face}


# RFC 3339: a date-time with an explicit offset (section 5.6), or a full-date.
QUERY_TIME = re.compile(
    r"\d{4}-\d\d-\d\d(?:[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d))?", re.ASCII
)
QUERY_TIME_HINT = (
    "must be an RFC 3339 date-time with an offset (2025-05-16T10:34:00Z, "
    "2025-05-16T10:34:00-04:00) or a date (2025-05-16, midnight UTC)"
)


def _when(raw: str | None, name: str) -> dt.datetime | None:
    """An RFC 3339 date-time with its offset, or an RFC 3339 full-date (midnight UTC).

    Anything else is a 422 naming the parameter: a time without an offset is ambiguous,
    and guessing UTC for it would quietly move a client's window by hours.
    """
    if raw is None:
        return None
    # An unencoded "+" in a query string arrives as a space: "...T09:00:00 02:00".
    text = re.sub(r"(:\d\d(?:\.\d+)?) (\d\d:\d\d)$", r"\1+\2", raw.strip())
    if not QUERY_TIME.fullmatch(text):
        raise invalid_param(name, QUERY_TIME_HINT)
    try:
        value = dt.datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:  # well-formed but no such time (month 13, hour 25, offset 24:00)
        raise invalid_param(name, QUERY_TIME_HINT) from None
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # a date: midnight UTC
    try:
        value.astimezone(dt.UTC)  # compared in UTC: the instant must have a UTC date
    except OverflowError:
        raise invalid_param(
            name, "is out of range: in UTC it falls outside the years 1 to 9999"
        ) from None
    return value


def _respond(
    request: Request, body: bytes, *, etag: str, last_modified: dt.datetime | None,
    keys: list[str], settings: Settings, status: int = 200, private: bool = False,
    keyed: bool = False,
) -> Response:  # fmt: skip
    """A read's response, or its 304; `private` when its content depends on the caller's
    key. `keyed`: a route whose content may depend on the key sends `Vary: Authorization`
    on its public answers too, so that a shared cache never gives the copy it kept for
    one caller (anonymous, say) to a key that would get another (a narrower list)."""
    headers = {
        "ETag": etag,
        "Cache-Control": PRIVATE_CACHE_CONTROL if private else public_cache_control(settings),
        "Surrogate-Key": " ".join(dict.fromkeys(keys)),
    }
    if keyed and not private:
        headers["Vary"] = "Authorization"
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    stamp = last_modified.timestamp() if last_modified else None
    if status == 200 and is_not_modified(
        request.headers.get("if-none-match"), request.headers.get("if-modified-since"), etag, stamp
    ):
        return Response(status_code=304, headers=headers)
    return Response(body, status, headers=headers, media_type="application/json")


def _surrogate_keys(views: list[ArticleView]) -> list[str]:
    return [key for view in views for key in (view.id, view.category.slug)]


def _cache_entry(view: ArticleView, response: Response, now: dt.datetime) -> CachedResponse:
    headers = [(k, v) for k, v in response.raw_headers]
    not_modified = [(k, v) for k, v in headers if k not in (b"content-length", b"content-type")]
    return CachedResponse(
        article_id=view.id, slug=view.slug, category=view.category.slug, revision=view.revision, etag=response.headers["etag"],
        last_modified_epoch=view.modified_at(now).timestamp(), body=bytes(response.body),
        headers=headers, headers_304=not_modified,
    )  # fmt: skip


@dataclass
class ListParams:
    """The query parameters of GET /v1/articles."""

    category: Repeatable = None
    author: Repeatable = None
    tag: Repeatable = None
    q: Annotated[str | None, Query(max_length=500)] = None
    published_after: str | None = None
    published_before: str | None = None
    updated_since: str | None = None
    sort: SortParam | None = None
    limit: Annotated[int, Query(ge=1, le=100)] = 20
    cursor: Annotated[str | None, Query(max_length=2000)] = None
    fields: str | None = None
    facets: str | None = None
    include_total: bool = False
    # Declared as one string (the frozen v1 contract); every repetition is read from the
    # query itself (_statuses), so that repeating it is an OR like the other filters.
    status: Annotated[
        str | None,
        Query(
            description="Keys with `write`: draft, scheduled, published, retracted (repeat it or use a comma list)"
        ),
    ] = None


# The parameters with one value (the filters and `status` are ORed when repeated).
SINGLE_VALUED = (
    "q", "published_after", "published_before", "updated_since", "sort", "limit", "cursor",
    "include_total",
)  # fmt: skip


def _repeats_read(request: Request, params: ListParams) -> ListParams:
    """Comma lists (`fields`, `facets`) add up over repetitions, like the filters; a
    single-valued parameter given twice with different values is a 422 naming it."""
    given_once(*SINGLE_VALUED)(request)
    query = request.query_params
    fields, facets = (
        ",".join(query.getlist(name)) if name in query else None for name in ("fields", "facets")
    )
    return replace(params, fields=fields, facets=facets)


async def _lists_modified(request: Request, session: AsyncSession, now: dt.datetime) -> dt.datetime:
    """Last-Modified of a list (see service.last_modified), reused while nothing changed."""
    clock: ListClock = request.app.state.list_clock
    return await clock.last_modified(lambda: service.last_modified(session, now))


@router.get(
    "/articles", operation_id="listArticles", response_model=ArticleList, responses={422: PROBLEM}
)
async def list_articles(
    request: Request, session: Session, settings: AppSettings, now: Now, caller: CurrentKey,
    params: Annotated[ListParams, Depends()],
) -> Response:  # fmt: skip
    """Published articles, newest first: filter, search, facet and page by cursor."""
    params = _repeats_read(request, params)
    statuses = _statuses(request.query_params.getlist("status"), caller)
    query = _list_query(settings, params, caller, statuses)
    wanted = _fields(params.fields, LIST_FIELDS)
    page = await service.list_articles(
        session, query, now, request.app.state.search, request.app.state.views
    )
    envelope = _list_body(request, settings, query, page, wanted, now)
    body = json_bytes(envelope)
    response = _respond(
        request,
        body,
        etag=etag_for(body),
        last_modified=await _lists_modified(request, session, now),
        keys=["articles", *_surrogate_keys(page.views)],
        settings=settings,
        private=_depends_on_key(query),
        keyed=True,
    )
    if envelope["links"]["next"]:
        response.headers["Link"] = f'<{envelope["links"]["next"]}>; rel="next"'
    return response


def _depends_on_key(query: service.ListQuery) -> bool:
    """Whether the list is one only this key gets: statuses beyond `published` (a write
    key), or narrowed to the key's categories."""
    return query.statuses != ["published"] or query.allowed_categories is not None


def _statuses(raw: list[str], caller: KeyInfo | None) -> list[str]:
    """The statuses asked for (repeated or comma-separated); anything but `published` needs
    a key with `write`."""
    statuses = list(dict.fromkeys(_split(raw))) or ["published"]
    if bad := [s for s in statuses if s not in EDITOR_STATUSES]:
        raise invalid_param(
            "status", f"unknown status(es) {', '.join(bad)}; known: {', '.join(EDITOR_STATUSES)}"
        )
    if statuses != ["published"]:
        if caller is None:
            raise Unauthorized("Listing unpublished articles needs a key with the 'write' scope.")
        if "write" not in caller.scopes:
            raise Forbidden(
                f"The key {caller.name!r} lacks the 'write' scope needed for status={','.join(statuses)}."
            )
    return statuses


def _list_query(
    settings: Settings, p: ListParams, caller: KeyInfo | None, statuses: list[str]
) -> service.ListQuery:
    q = (p.q or "").strip() or None  # blank is no search at all, as when q is absent
    drafts = "draft" in statuses
    chosen = p.sort or ("relevance" if q else "-updated_at" if drafts else "-published_at")
    if chosen == "relevance" and not q:
        raise invalid_param("sort", "relevance needs a search query q")
    if drafts and chosen.endswith("published_at"):
        raise invalid_param(
            "sort", "drafts have no publication time; sort by -updated_at or updated_at"
        )
    facet_names = _split([p.facets]) if p.facets else []
    if bad := [name for name in facet_names if name not in service.FACETS]:
        raise invalid_param(
            "facets", f"unknown facet(s) {', '.join(bad)}; known: category, author, tag"
        )
    return service.ListQuery(
        categories=_split(p.category or []), authors=_split(p.author or []), tags=_split(p.tag or []), q=q,
        published_after=_when(p.published_after, "published_after"),
        published_before=_when(p.published_before, "published_before"),
        updated_since=_when(p.updated_since, "updated_since"), sort=chosen, limit=p.limit,
        after=decode_cursor(settings.cursor_secret, chosen, p.cursor) if p.cursor else None,
        facets=list(dict.fromkeys(facet_names)), include_total=p.include_total,
        statuses=statuses, allowed_categories=caller.categories if caller else None,
    )  # fmt: skip


def _list_body(
    request: Request,
    settings: Settings,
    query: service.ListQuery,
    page: service.ListPage,
    fields: list[str] | None,
    now: dt.datetime,
) -> dict[str, Any]:
    data = []
    # A status filter (even `published` alone) or `fields=status` shows each one's status.
    show_status = "status" in request.query_params or (fields is not None and "status" in fields)
    for view in page.views:
        face = summary_face(view, settings.public_base_url, now)
        if show_status or query.statuses != ["published"]:
            face["status"] = public_status(view, now)
        if view.id in page.highlights:
            face["highlight"] = page.highlights[view.id]
        data.append(_narrow(face, fields))
    next_cursor = (
        encode_cursor(settings.cursor_secret, query.sort, page.next_key) if page.next_key else None
    )
    meta: dict[str, Any] = {"limit": query.limit, "next_cursor": next_cursor}
    if page.total is not None:
        meta["total"] = page.total
    if page.facets is not None:
        meta["facets"] = page.facets
    here = f"{settings.public_base_url}{request.url.path}"
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    self_link = _with_query(here, list(request.query_params.multi_items()))
    next_link = _with_query(here, [*params, ("cursor", next_cursor)]) if next_cursor else None
    return {"data": data, "meta": meta, "links": {"self": self_link, "next": next_link}}


def _with_query(base: str, params: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(params)}" if params else base


ArticleResponses: dict[int | str, dict[str, Any]] = {
    200: {"model": ArticleRead | ArticleFields},
    301: MOVED_RESPONSE,
    404: PROBLEM,
    410: {"model": Tombstone, "description": "Retracted or deleted: the tombstone"},
    422: PROBLEM,
}


@router.get(
    "/articles/{key}", operation_id="getArticle", response_model=None, responses=ArticleResponses
)
async def get_article(
    key: str,
    request: Request,
    session: Session,
    settings: AppSettings,
    now: Now,
    caller: CurrentKey,
    fields: str | None = None,
) -> Response:
    """One article by id or slug; 410 with the tombstone if it was retracted or deleted.

    Keys with `write` also see drafts and scheduled articles (never cached by anyone).
    """
    wanted = _fields(fields, FULL_FIELDS)
    cache: ReadCache = request.app.state.read_cache
    loaded_at = cache.epoch
    editor = caller is not None and "write" in caller.scopes
    view = await service.get(session, key, now, editor=editor)
    if caller is not None and not caller.allows_category(view.category.slug):
        raise NotFound(f"No article with id or slug {key!r}.")
    keys = [view.id, view.category.slug]
    if view.is_tombstone:
        # An editor is given every tombstone, also of what readers never saw: that answer
        # is theirs alone.
        return _tombstone(request, settings, view, private=editor)
    body = json_bytes(_narrow(full_face(view, settings.public_base_url, now), wanted))
    etag = etag_of(view, now) if wanted is None else etag_for(body)
    public = view.is_public(now)
    response = _respond(
        request,
        body,
        etag=etag,
        last_modified=view.modified_at(now),
        keys=keys,
        settings=settings,
        private=not public,
    )
    if public and wanted is None and response.status_code == 200:
        cache.store(_cache_entry(view, response, now), loaded_at)
    return response


@router.get(
    "/articles/{key}/related",
    operation_id="listRelatedArticles",
    response_model=RelatedList,
    responses={
        301: MOVED_RESPONSE,
        404: PROBLEM,
        410: {
            "model": Tombstone,
            "description": "Retracted or deleted: the tombstone",
            **PROBLEM,  # as documented before the tombstone was
        },
        422: PROBLEM,
    },
)
async def related_articles(
    key: str, request: Request, session: Session, settings: AppSettings, now: Now,
    caller: CurrentKey, limit: Annotated[int, Query(ge=1, le=100)] = 10,
    fields: str | None = None,
) -> Response:  # fmt: skip
    """Up to `limit` published articles sharing tags or the category, best first.

    A retracted or deleted article answers as its detail does: 410 with its tombstone.
    """
    wanted = _fields(fields, SUMMARY_FIELDS)
    view = await service.get(session, key, now)
    within = caller.categories if caller else None
    if within is not None and view.category.slug not in within:
        raise NotFound(f"No article with id or slug {key!r}.")
    if view.is_tombstone:
        return _tombstone(request, settings, view)
    views = await service.related(
        session, view, limit, now, request.app.state.views, allowed_categories=within
    )
    data = [_narrow(summary_face(v, settings.public_base_url, now), wanted) for v in views]
    body = json_bytes({"data": data})
    return _respond(
        request,
        body,
        etag=etag_for(body),
        last_modified=await _lists_modified(request, session, now),
        keys=[view.id, *_surrogate_keys(views)],
        settings=settings,
        private=within is not None,
        keyed=True,
    )


def _tombstone(
    request: Request, settings: Settings, view: ArticleView, *, private: bool = False
) -> Response:
    body = json_bytes(tombstone_face(view))
    return _respond(
        request, body, etag=etag_for(body), last_modified=view.updated_at,
        keys=[view.id, view.category.slug], settings=settings, status=410, private=private,
    )  # fmt: skip


async def _terms_response(
    request: Request, session: Session, settings: Settings, now: dt.datetime, data: Any,
    keys: list[str], caller: KeyInfo | None,
) -> Response:  # fmt: skip
    body = json_bytes(data)
    return _respond(
        request, body, etag=etag_for(body), last_modified=await _lists_modified(request, session, now),
        keys=keys, settings=settings, private=_within(caller) is not None, keyed=True,
    )  # fmt: skip


# Fastly takes 16 KB of surrogate keys per response; past this the `articles` key alone
# (which every change that moves a count purges) must do.
MAX_NAMED_KEYS_BYTES = 8_000


def _bounded_keys(slugs: list[str]) -> list[str]:
    return slugs if sum(len(slug) + 1 for slug in slugs) <= MAX_NAMED_KEYS_BYTES else []


def _within(caller: KeyInfo | None) -> tuple[str, ...] | None:
    """The categories a key is limited to: its taxonomies count only their articles."""
    return caller.categories if caller else None


def _term(term: service.TermCount, with_bio: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"slug": term.slug, "name": term.name}
    if with_bio:
        item["bio"] = term.bio
    item["article_count"] = term.article_count
    return item


@router.get("/categories", operation_id="listCategories", response_model=CategoryList)
async def list_categories(
    request: Request, session: Session, settings: AppSettings, now: Now, caller: CurrentKey
) -> Response:
    """Every category with published articles, and how many."""
    terms = await service.seen_categories(session, now, within=_within(caller))
    data = {"data": [_term(t) for t in terms]}
    keys = ["categories", "articles", *_bounded_keys([t.slug for t in terms])]
    return await _terms_response(request, session, settings, now, data, keys, caller)


@router.get(
    "/categories/{slug}",
    operation_id="getCategory",
    response_model=CategoryRead,
    responses={404: PROBLEM},
)
async def get_category(
    slug: str, request: Request, session: Session, settings: AppSettings, now: Now,
    caller: CurrentKey,
) -> Response:  # fmt: skip
    """One category with its number of published articles (404 if it has none)."""
    terms = await service.seen_categories(session, now, slug=slug, within=_within(caller))
    if not terms:
        raise NotFound(f"No category with slug {slug!r}.")
    data = _term(terms[0])
    return await _terms_response(
        request, session, settings, now, data, ["categories", "articles", slug], caller
    )


@router.get("/authors", operation_id="listAuthors", response_model=AuthorList)
async def list_authors(
    request: Request, session: Session, settings: AppSettings, now: Now, caller: CurrentKey
) -> Response:
    """Every author of published articles, and how many."""
    terms = await service.seen_authors(session, now, within=_within(caller))
    data = {"data": [_term(t, True) for t in terms]}
    keys = ["authors", "articles"]
    return await _terms_response(request, session, settings, now, data, keys, caller)


@router.get(
    "/authors/{slug}", operation_id="getAuthor", response_model=AuthorRead, responses={404: PROBLEM}
)
async def get_author(
    slug: str, request: Request, session: Session, settings: AppSettings, now: Now,
    caller: CurrentKey,
) -> Response:  # fmt: skip
    """One author with their number of published articles (404 if they have none)."""
    terms = await service.seen_authors(session, now, slug=slug, within=_within(caller))
    if not terms:
        raise NotFound(f"No author with slug {slug!r}.")
    data = _term(terms[0], True)
    keys = ["authors", "articles", slug]
    return await _terms_response(request, session, settings, now, data, keys, caller)


@router.get("/tags", operation_id="listTags", response_model=TagList)
async def list_tags(
    request: Request, session: Session, settings: AppSettings, now: Now, caller: CurrentKey
) -> Response:
    """Every tag of published articles, and how many."""
    terms = await service.seen_tags(session, now, within=_within(caller))
    data = {"data": [_term(t) for t in terms]}
    return await _terms_response(
        request, session, settings, now, data, ["tags", "articles"], caller
    )
