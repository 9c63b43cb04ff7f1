"""create_app(): the one place that wires settings, the database, middleware, errors and routers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from app.access.cors import GatedCORSMiddleware
from app.access.middleware import AccessMiddleware, Gate, KeyResolver
from app.access.ratelimit import RateLimiter, parse_limit
from app.access.usage import UsageMiddleware, UsageRecorder
from app.api import mount_v1
from app.articles.cache import ChangeFollower, ListClock, ReadCache
from app.articles.fastpath import FastLane
from app.articles.readmodel import ViewCache
from app.articles.search import SearchIndex
from app.changes.notifier import ChangeNotifier
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.errors import install_error_handlers
from app.core.middleware import (
    BodyGuardMiddleware,
    BodyRule,
    HeadAsGetMiddleware,
    RequestIdMiddleware,
)
from app.core.periodic import every
from app.core.routing import RouteTemplates, add_routes
from app.dashboard.router import mount_dashboard
from app.health import migration_head
from app.health import router as health_router
from app.ingest.formats import MEDIA_TYPES as IMPORT_MEDIA_TYPES
from app.ops.deprecation import changelog_url
from app.ops.metrics import BylineCollector, Observer, RequestStats, make_registry
from app.ops.middleware import OpsMiddleware
from app.ops.router import router as ops_router
from app.ops.workers import SHARE_SECONDS, SharedDirectory
from app.stats.views import ViewCounter
from app.syndication.cache import ArticleFaceRoute, FeedCache, FeedRoute

ALLOWED_HEADERS = [
    "Authorization", "Content-Type", "If-Match", "If-None-Match", "If-Modified-Since",
    "Idempotency-Key", "X-Request-ID",
]  # fmt: skip
EXPOSED_HEADERS = [
    "ETag", "Last-Modified", "Link", "Location", "X-Request-ID", "Surrogate-Key",
    "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After",
    "Byline-Change-Cursor", "Idempotent-Replayed", "Deprecation", "Sunset",
]  # fmt: skip


USAGE_FLUSH_SECONDS = 5.0


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The cache is filled from the read sessions, so it must learn of changes from the same
    # database: a follower on the primary could evict before the replica has the write, and
    # the reload would cache the old revision again until the article's next change.
    follower = ChangeFollower(app.state.read_cache, app.state.read_sessions)
    tasks = [
        asyncio.create_task(follower.run(app.state.settings.cache_poll_interval)),
        asyncio.create_task(app.state.usage.run(USAGE_FLUSH_SECONDS)),
        asyncio.create_task(app.state.view_counter.run(USAGE_FLUSH_SECONDS)),
        asyncio.create_task(
            app.state.keys.follow_revocations(app.state.settings.cache_poll_interval)
        ),
    ]
    collector: BylineCollector = app.state.metrics_collector
    if collector.shared is not None:
        tasks.append(asyncio.create_task(every(SHARE_SECONDS, _async(collector.share))))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await app.state.change_notifier.close()
        with contextlib.suppress(Exception):  # a graceful stop keeps what was counted
            await app.state.usage.flush()
        with contextlib.suppress(Exception):
            await app.state.view_counter.flush()
        with contextlib.suppress(OSError):  # what this worker counted stays in the sum
            collector.share()
        if app.state.owns_engine:
            await app.state.engine.dispose()
        if app.state.read_engine is not None:
            await app.state.read_engine.dispose()


class Byline(FastAPI):
    """FastAPI with the fast lane in front of its whole middleware stack."""

    fast_lane: FastLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.fast_lane
        if lane is not None and await lane.handle(scope, receive, send):
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None, sessions: async_sessionmaker[AsyncSession] | None = None
) -> Byline:
    """Build the application; tests pass their own settings and session factory."""
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level)
    app = Byline(
        title="Byline",
        version="1.0.0",
        summary="Structured news articles over versioned JSON and syndication formats.",
        lifespan=lifespan,
        redirect_slashes=False,  # app/core/routing.py slash_redirect does it, relatively
    )
    _wire_state(app, settings, sessions)
    install_error_handlers(app)
    mount_v1(app)
    add_routes(app, health_router)
    add_routes(app, ops_router)
    mount_dashboard(app)
    _add_middleware(app, settings)
    cors = CORSMiddleware(_no_app, **cors_options(settings))
    routes = (FeedRoute(app.state.feed_cache), ArticleFaceRoute(app.state.read_cache))
    app.fast_lane = FastLane(
        app.state.read_cache, app.state.gate, app.state.usage, cors, routes, app.state.observer
    )
    return app


def _wire_state(
    app: FastAPI, settings: Settings, sessions: async_sessionmaker[AsyncSession] | None
) -> None:
    """The per-process objects every layer shares, kept on app.state."""
    app.state.settings = settings
    app.state.owns_engine = sessions is None
    if sessions is None:
        app.state.engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(app.state.engine)
        app.state.write_sessions = make_sessionmaker(app.state.engine, writes=True)
    else:
        app.state.write_sessions = sessions
    app.state.sessions = sessions
    app.state.read_sessions = _read_sessions(app, settings, sessions)
    # Writers queue per process on SQLite (one writer at a time anyway); PostgreSQL needs no gate.
    sqlite = sessions.kw["bind"].dialect.name == "sqlite"
    app.state.write_gate = asyncio.Lock() if sqlite else contextlib.nullcontext()
    app.state.search = SearchIndex(sessions.kw["bind"].dialect.name)
    app.state.read_cache = ReadCache(settings.cache_max_bytes)
    app.state.list_clock = ListClock(app.state.read_cache, settings.cache_poll_interval)
    # Feeds are few and each depends on every article: a quarter of the read cache's bound.
    app.state.feed_cache = FeedCache(app.state.read_cache, settings.cache_max_bytes // 4)
    app.state.views = ViewCache(settings.view_cache_entries)
    app.state.change_notifier = ChangeNotifier(sessions)  # long-polls of /v1/changes
    app.state.migration_head = migration_head()
    app.state.keys = KeyResolver(sessions, settings.key_cache_seconds)
    app.state.limiter = RateLimiter.from_url(settings.redis_url)
    app.state.usage = UsageRecorder(sessions)
    app.state.view_counter = ViewCounter(sessions)  # reads recorded by frontends
    _wire_metrics(app)
    app.state.gate = Gate(
        app.state.keys,
        app.state.limiter,
        anonymous_limit=parse_limit(settings.anonymous_rate_limit),
        key_limit=parse_limit(settings.key_rate_limit),
    )


def _read_sessions(
    app: FastAPI, settings: Settings, primary: async_sessionmaker[AsyncSession]
) -> async_sessionmaker[AsyncSession]:
    """Sessions on the read replica when one is configured; otherwise the primary's."""
    app.state.read_engine = None
    if settings.database_read_url is None:
        return primary
    app.state.read_engine = make_engine(settings.database_read_url)
    return make_sessionmaker(app.state.read_engine)


def _wire_metrics(app: FastAPI) -> None:
    """Requests are counted in plain numbers; /metrics reads them and the rest at scrape time."""
    app.state.observer = Observer(RequestStats())
    engine = app.state.engine if app.state.owns_engine else None
    directory = app.state.settings.metrics_dir
    shared = None
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        shared = SharedDirectory(directory)
    collector = BylineCollector(app.state.observer.stats, app.state.read_cache, engine, shared)
    app.state.metrics_collector = collector
    app.state.metrics_registry = make_registry(collector)


def cors_options(settings: Settings) -> dict[str, Any]:
    return {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": ALLOWED_HEADERS,
        "expose_headers": EXPOSED_HEADERS,
        "max_age": 600,
    }


def _async(action: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """A quick synchronous step (a small file written) as a periodic task's action."""

    async def run() -> None:
        action()

    return run


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The fast lane borrows CORSMiddleware's header logic only; it never calls through."""


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first; the fast lane (Byline.__call__) sits in front of them all.
    app.add_middleware(
        BodyGuardMiddleware,
        default=BodyRule(settings.max_body_bytes),
        rules={"/v1/imports": BodyRule(settings.max_import_bytes, tuple(IMPORT_MEDIA_TYPES))},
    )
    app.add_middleware(AccessMiddleware, gate=app.state.gate)
    templates = RouteTemplates(app)  # one lookup table for usage and metrics
    app.add_middleware(UsageMiddleware, recorder=app.state.usage, templates=templates)
    app.add_middleware(GatedCORSMiddleware, gate=app.state.gate, options=cors_options(settings))
    # Inside HeadAsGet, whose copy of the scope is the one the router names the route in.
    app.add_middleware(
        OpsMiddleware,
        observer=app.state.observer,
        changelog_url=changelog_url(settings.public_base_url),
        templates=templates,
    )
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RequestIdMiddleware)
