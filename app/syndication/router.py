"""The syndication routes: RSS, Atom and JSON Feed, ninjs and JSON-LD.

No key is needed; the key decides what a caller gets (app/syndication/rules.py): full
bodies with `syndicate`, its categories only, and nothing kept from syndication unless it
has `write`. Every response is built once and kept encoded (app/syndication/cache.py).
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.access.deps import CurrentKey
from app.access.service import KeyInfo
from app.articles import service as articles
from app.articles.cache import CachedResponse, RawHeaders, ReadCache
from app.articles.fastpath import Servable
from app.articles.readmodel import ArticleView, RefView, tombstone_face
from app.articles.schemas import Tombstone
from app.core.config import Settings
from app.core.deps import AppSettings, Now, Session
from app.core.errors import MOVED_RESPONSE, NotFound
from app.core.http import (
    PRIVATE_CACHE_CONTROL,
    etag_for,
    given_once,
    http_date,
    is_not_modified,
    json_bytes,
    public_cache_control,
)
from app.syndication import service
from app.syndication.cache import DEFAULT_LIMIT, CachedFeed, FeedCache, FeedKey, face_name
from app.syndication.dates import EPOCH, modified_at
from app.syndication.feeds import MEDIA_TYPES, FeedInfo, render
from app.syndication.identity import feed_uri
from app.syndication.jsonld import html_safe, html_safe_json, jsonld_document
from app.syndication.ninjs import ninjs_document
from app.syndication.rules import Audience, audience_of, shared_article

# Every parameter of these routes has one value (app/core/http.py given_once).
router = APIRouter(
    prefix="/v1", tags=["syndication"], dependencies=[Depends(given_once("limit", "version"))]
)
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
JSON_LD = "application/ld+json"
GONE: dict[str, Any] = {"model": Tombstone, "description": "Retracted or deleted: the tombstone"}

FeedLimit = Annotated[
    int, Query(ge=1, le=100, description="How many of the newest articles (1-100)")
]
FeedName = Annotated[str, Path(description="`all`, or the slug of a category")]
NinjsVersion = Annotated[
    Literal["2.2", "3.1"], Query(description="The ninjs version: 2.2 (default) or 3.1")
]


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is reading, and with what: every syndication route needs the same things."""

    request: Request
    session: AsyncSession
    settings: Settings
    now: dt.datetime
    caller: KeyInfo | None

    @property
    def audience(self) -> Audience:
        return audience_of(self.caller)

    @property
    def read_cache(self) -> ReadCache:
        cache: ReadCache = self.request.app.state.read_cache
        return cache


async def _reader(
    request: Request, session: Session, settings: AppSettings, now: Now, caller: CurrentKey
) -> Reader:
    # No key is required (so none is declared in OpenAPI); AccessMiddleware has checked any.
    return Reader(request, session, settings, now, caller)


ReaderDep = Annotated[Reader, Depends(_reader)]


def _responses(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type: {}}, "description": what},
        404: PROBLEM,
        422: PROBLEM,
    }


# ---- feeds


@router.get(
    "/feeds/{name}.rss", operation_id="getRssFeed", response_class=Response,
    responses=_responses("application/rss+xml", "An RSS 2.0 feed"),
)  # fmt: skip
async def rss_feed(name: FeedName, reader: ReaderDep, limit: FeedLimit = DEFAULT_LIMIT) -> Response:
    """RSS 2.0 of the newest articles: `all`, or one category by slug."""
    return await _feed(reader, FeedKey("rss", _category(name), limit, reader.audience))


@router.get(
    "/feeds/{name}.atom", operation_id="getAtomFeed", response_class=Response,
    responses=_responses("application/atom+xml", "An Atom 1.0 feed"),
)  # fmt: skip
async def atom_feed(
    name: FeedName, reader: ReaderDep, limit: FeedLimit = DEFAULT_LIMIT
) -> Response:
    """Atom 1.0 of the newest articles: `all`, or one category by slug."""
    return await _feed(reader, FeedKey("atom", _category(name), limit, reader.audience))


@router.get(
    "/feeds/{name}.json", operation_id="getJsonFeed", response_class=Response,
    responses=_responses("application/feed+json", "A JSON Feed 1.1"),
)  # fmt: skip
async def json_feed(
    name: FeedName, reader: ReaderDep, limit: FeedLimit = DEFAULT_LIMIT
) -> Response:
    """JSON Feed 1.1 of the newest articles: `all`, or one category by slug."""
    return await _feed(reader, FeedKey("json", _category(name), limit, reader.audience))


def _category(name: str) -> str | None:
    return None if name == "all" else name


async def _feed(reader: Reader, key: FeedKey) -> Response:
    if key.category is not None and not key.audience.allows(key.category, syndication=True):
        raise NotFound(f"No category with slug {key.category!r}.")
    feeds: FeedCache = reader.request.app.state.feed_cache
    entry = await feeds.get(key, lambda: _build_feed(reader, key))
    return _answer(reader.request, entry)


async def _build_feed(reader: Reader, key: FeedKey) -> CachedFeed:
    epoch = reader.read_cache.epoch  # before reading: a change from now on refuses the result
    ref = await _category_ref(reader.session, key.category)
    views = await service.feed_items(
        reader.session, category_slug=key.category, audience=key.audience, limit=key.limit,
        now=reader.now, views=reader.request.app.state.views,
    )  # fmt: skip
    lift = await service.next_embargo_lift(reader.session, reader.now)
    changed = await service.last_change(reader.session) or EPOCH
    moments = [m for view in views for m in (view.published_at, view.updated_at) if m]
    updated = max(moments, default=changed)
    # The body says when its items last changed; the header also counts removals (a
    # retraction), so If-Modified-Since never misses one.
    last_modified = max(updated, changed)
    body = render(key.kind, _feed_info(reader.settings, key, ref, updated), views)
    etag = etag_for(body)
    headers, headers_304 = _headers(
        reader.settings, MEDIA_TYPES[key.kind], body, etag, last_modified,
        ["feeds", key.category or "", *_surrogate_keys(views)], shared=key.audience.shared_feed,
    )  # fmt: skip
    expires = reader.now.timestamp() + reader.settings.cache_max_age
    return CachedFeed(
        etag, last_modified.timestamp(), body, headers, headers_304, epoch,
        min(expires, lift.timestamp()) if lift else expires,
    )  # fmt: skip


async def _category_ref(session: AsyncSession, slug: str | None) -> RefView | None:
    if slug is None:
        return None
    ref = await service.category(session, slug)
    if ref is None:
        raise NotFound(f"No category with slug {slug!r}.")
    return ref


def _feed_info(
    settings: Settings, key: FeedKey, ref: RefView | None, updated: dt.datetime
) -> FeedInfo:
    base, publisher = settings.public_base_url, settings.copyright_holder
    name = "all" if ref is None else ref.slug
    query = "" if key.limit == DEFAULT_LIMIT else f"?limit={key.limit}"
    return FeedInfo(
        feed_id=feed_uri(key.category),
        title=publisher if ref is None else f"{publisher}: {ref.name}",
        description=f"The newest {'' if ref is None else ref.name + ' '}articles from {publisher}",
        home_url=f"{base}/" if ref is None else f"{base}/categories/{ref.slug}",
        self_url=f"{base}/v1/feeds/{name}.{key.kind}{query}",
        language=settings.default_language, publisher=publisher, base_url=base,
        updated=updated, full=key.audience.full,
    )  # fmt: skip


def _surrogate_keys(views: list[ArticleView]) -> list[str]:
    return [key for view in views for key in (view.id, view.category.slug)]


# ---- one article: ninjs and JSON-LD


@router.get(
    "/articles/{key}/ninjs", operation_id="getArticleNinjs", response_class=Response,
    responses={**_responses("application/json", "An IPTC ninjs document"), 301: MOVED_RESPONSE},
)  # fmt: skip
async def article_ninjs(key: str, reader: ReaderDep, version: NinjsVersion = "2.2") -> Response:
    """The article as IPTC ninjs 2.2 or 3.1; retracted or deleted: `pubstatus` canceled."""
    loaded_at = reader.read_cache.epoch
    view = await _article(reader, key)
    document = ninjs_document(
        view, version=version, full=reader.audience.full,
        base_url=reader.settings.public_base_url, now=reader.now,
    )  # fmt: skip
    face = face_name("ninjs", version, reader.audience)
    return _face(reader, view, face, json_bytes(document), "application/json", loaded_at)


class HtmlSafeRoute(APIRoute):
    """A route none of whose bodies has a raw `<`, `>` or `&`, problems included.

    JSON-LD is embedded in pages (API.md section 9), and a problem can echo the client's
    own text (the key in `detail`, the path in `instance`): the app's own handler renders
    it, then it is escaped like the document. Unexpected errors are left to the server's
    error handling (they must be logged and re-raised there).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def html_safe_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                render = _handler_of(request, exc)
                if render is None:
                    raise
                answer = render(request, exc)
                problem: Response = await answer if inspect.isawaitable(answer) else answer
                return _html_safe(problem)

        return html_safe_handler


def _handler_of(request: Request, exc: Exception) -> Callable[..., Any] | None:
    """The app's handler of this kind of error; None for the catch-all of unexpected ones."""
    handlers: dict[Any, Callable[..., Any]] = request.app.exception_handlers
    kind = next((kind for kind in type(exc).__mro__ if kind in handlers), Exception)
    return None if kind is Exception else handlers[kind]


def _html_safe(response: Response) -> Response:
    body = html_safe(bytes(response.body))
    headers = [header for header in response.raw_headers if header[0] != b"content-length"]
    response.body = body
    response.raw_headers = [*headers, (b"content-length", str(len(body)).encode())]
    return response


async def article_jsonld(key: str, reader: ReaderDep) -> Response:
    """The article as a schema.org NewsArticle (JSON-LD, safe to embed in a page).

    It is the publisher's own page markup, not syndication: like the article itself (and
    its `links.jsonld`), it is there whatever `rights.syndication` says."""
    loaded_at = reader.read_cache.epoch
    view = await _article(reader, key, rights=False)
    if view.is_tombstone:
        return _tombstone(reader, view)
    document = jsonld_document(
        view, full=reader.audience.full, base_url=reader.settings.public_base_url,
        publisher=reader.settings.copyright_holder,
    )  # fmt: skip
    face = face_name("jsonld", None, reader.audience)
    return _face(reader, view, face, html_safe_json(document), JSON_LD, loaded_at)


# Added by hand rather than decorated: only add_api_route takes a route class.
router.add_api_route(
    "/articles/{key}/jsonld", article_jsonld, methods=["GET"], operation_id="getArticleJsonLd",
    response_class=Response, responses={**_responses(JSON_LD, "A schema.org NewsArticle"), 301: MOVED_RESPONSE, 410: GONE},
    route_class_override=HtmlSafeRoute,
)  # fmt: skip


async def _article(reader: Reader, key: str, *, rights: bool = True) -> ArticleView:
    """The article as this caller may have it; 404 outside its categories or, unless
    `rights` is False, when its rights keep it from syndication."""
    editor = reader.caller is not None and "write" in reader.caller.scopes
    view = await articles.get(reader.session, key, reader.now, editor=editor)
    if not reader.audience.allows(view.category.slug, syndication=True):
        raise NotFound(f"No article with id or slug {key!r}.")
    if rights and not reader.audience.sees(view):
        raise NotFound(f"Article {view.id} is not available for syndication.")
    return view


def _face(
    reader: Reader, view: ArticleView, face: str, body: bytes, media_type: str, loaded_at: int
) -> Response:
    public = view.is_public(reader.now)
    etag = etag_for(body)
    changed = view.updated_at if view.is_tombstone else modified_at(view)
    headers, headers_304 = _headers(
        reader.settings, media_type, body, etag, changed, [view.id, view.category.slug],
        shared=shared_article(view, reader.audience) and (public or view.is_tombstone),
    )  # fmt: skip
    entry = CachedResponse(
        article_id=view.id, slug=view.slug, category=view.category.slug, revision=view.revision,
        etag=etag, last_modified_epoch=changed.timestamp(), body=body,
        headers=headers, headers_304=headers_304, face=face, syndication=view.syndication,
    )  # fmt: skip
    if public:
        reader.read_cache.store(entry, loaded_at)
    return _answer(reader.request, entry)


def _tombstone(reader: Reader, view: ArticleView) -> Response:
    """410 with the tombstone, HTML-safe like the document it replaces (the reason is text)."""
    body = html_safe_json(tombstone_face(view))
    headers, _ = _headers(
        reader.settings, "application/json", body, etag_for(body), view.updated_at,
        [view.id, view.category.slug], shared=True,
    )  # fmt: skip
    response = Response(status_code=410, content=body)
    response.raw_headers = headers
    return response


# ---- responses


def _headers(
    settings: Settings, media_type: str, body: bytes, etag: str, last_modified: dt.datetime,
    surrogate: list[str], *, shared: bool,
) -> tuple[RawHeaders, RawHeaders]:  # fmt: skip
    """The headers of a 200, and of a 304 (the same without the body's length and type)."""
    cache_control = public_cache_control(settings) if shared else PRIVATE_CACHE_CONTROL
    common = [
        (b"etag", etag.encode()),
        (b"last-modified", http_date(last_modified).encode()),
        (b"cache-control", cache_control.encode()),
        (b"surrogate-key", " ".join(dict.fromkeys(k for k in surrogate if k)).encode()),
        # What a key gets differs from what anonymous readers get: caches must keep them apart.
        (b"vary", b"Authorization"),
    ]
    sized = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", media_type.encode()),
    ]
    return [*sized, *common], common


def _answer(request: Request, entry: Servable) -> Response:
    """200 with the cached bytes, or 304 if the client's copy is current."""
    fresh = is_not_modified(
        request.headers.get("if-none-match"), request.headers.get("if-modified-since"),
        entry.etag, entry.last_modified_epoch,
    )  # fmt: skip
    response = Response(status_code=304 if fresh else 200, content=b"" if fresh else entry.body)
    response.raw_headers = list(entry.headers_304 if fresh else entry.headers)
    return response
