"""Caches of encoded syndication responses, and the routes the fast lane answers from them.

One article's ninjs and JSON-LD live in the read cache beside its v1 JSON (one face each),
so the change follower forgets them with the article. A feed depends on the whole set of
newest articles, so it is kept only while nothing changed at all (the read cache's
epoch moves with every eviction), until the next embargo lifts (an article becomes
visible without a write) and never longer than the advertised max-age.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import Scope

from app.access.service import KeyInfo
from app.articles.cache import RawHeaders, ReadCache
from app.articles.fastpath import Servable
from app.syndication.rules import Audience, audience_of

FEEDS_PREFIX = "/v1/feeds/"
ARTICLES_PREFIX = "/v1/articles/"
FEED_KINDS = ("rss", "atom", "json")
DEFAULT_LIMIT = 50
FEED_ENDPOINTS = {kind: f"/v1/feeds/{{name}}.{kind}" for kind in FEED_KINDS}
FACE_ENDPOINTS = {"ninjs": "/v1/articles/{key}/ninjs", "jsonld": "/v1/articles/{key}/jsonld"}
NINJS_QUERIES = {b"": "2.2", b"version=2.2": "2.2", b"version=3.1": "3.1"}


@dataclass(frozen=True, slots=True)
class FeedKey:
    kind: str  # rss, atom or json
    category: str | None  # None: all categories
    limit: int
    audience: Audience


@dataclass(frozen=True, slots=True)
class CachedFeed:
    etag: str
    last_modified_epoch: float
    body: bytes
    headers: RawHeaders  # sent with 200
    headers_304: RawHeaders  # sent with 304
    epoch: int  # the read cache's epoch before the items were read
    expires: float  # POSIX time: the next embargo lift, or max-age after it was built

    @property
    def size(self) -> int:
        return len(self.body) + 2048


class FeedCache:
    """Encoded feeds by what was asked and who asked, bounded in bytes, least recent out first."""

    def __init__(self, read_cache: ReadCache, max_bytes: int) -> None:
        self.read_cache = read_cache
        self.max_bytes = max_bytes
        self._entries: OrderedDict[FeedKey, CachedFeed] = OrderedDict()
        self._building: dict[FeedKey, asyncio.Future[CachedFeed | None]] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.builds = 0

    async def get(self, key: FeedKey, build: Callable[[], Awaitable[CachedFeed]]) -> CachedFeed:
        """The cached feed, or a new one; concurrent misses of one feed share a single build.

        After any change every feed is gone at once, and a popular feed would otherwise be
        built by every request that arrives before the first build is done.
        """
        entry = self.lookup(key)
        if entry is not None:
            return entry
        running = self._building.get(key)
        if running is not None:
            shared = await asyncio.shield(running)
            return shared if shared is not None else await build()
        done: asyncio.Future[CachedFeed | None] = asyncio.get_running_loop().create_future()
        self._building[key] = done
        try:
            entry = await build()
        except BaseException:  # failed or cancelled: whoever waited builds for itself
            done.set_result(None)
            raise
        finally:
            self._building.pop(key, None)
        self.builds += 1
        # Only a feed nothing changed under is shared (and kept); the others build afresh.
        done.set_result(entry if self.store(key, entry) else None)
        return entry

    def lookup(self, key: FeedKey) -> CachedFeed | None:
        entry = self._entries.get(key)
        if entry is not None and not self._current(entry):
            self._drop(key)
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def store(self, key: FeedKey, entry: CachedFeed) -> bool:
        """Keep a feed, unless something changed while it was being built."""
        if not self._current(entry) or entry.size > self.max_bytes:
            return False
        self._drop(key)
        self._entries[key] = entry
        self._bytes += entry.size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def _current(self, entry: CachedFeed) -> bool:
        return entry.epoch == self.read_cache.epoch and time.time() < entry.expires

    def _drop(self, key: FeedKey) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size

    def __len__(self) -> int:
        return len(self._entries)


def face_name(kind: str, version: str | None, audience: Audience) -> str:
    """The read-cache face of one syndication document: format, version, full or summary."""
    return "-".join(part for part in (kind, version, audience.variant) if part)


class FeedRoute:
    """GET /v1/feeds/{name}.{rss,atom,json} without a query, from the feed cache."""

    def __init__(self, feeds: FeedCache) -> None:
        self.feeds = feeds

    def wants(self, scope: Scope) -> bool:
        return not scope["query_string"] and scope["path"].startswith(FEEDS_PREFIX)

    def find(self, scope: Scope, caller: KeyInfo | None) -> tuple[Servable, str] | None:
        name, _, kind = scope["path"][len(FEEDS_PREFIX) :].rpartition(".")
        if kind not in FEED_KINDS or not name or "/" in name:
            return None
        category = None if name == "all" else name
        entry = self.feeds.lookup(FeedKey(kind, category, DEFAULT_LIMIT, audience_of(caller)))
        return (entry, FEED_ENDPOINTS[kind]) if entry else None


class ArticleFaceRoute:
    """GET /v1/articles/{key}/ninjs[?version=] and /jsonld, from the read cache."""

    def __init__(self, cache: ReadCache) -> None:
        self.cache = cache

    def wants(self, scope: Scope) -> bool:
        path: str = scope["path"]
        return path.startswith(ARTICLES_PREFIX) and path.endswith(("/ninjs", "/jsonld"))

    def find(self, scope: Scope, caller: KeyInfo | None) -> tuple[Servable, str] | None:
        key, _, kind = scope["path"][len(ARTICLES_PREFIX) :].partition("/")
        version = _version(kind, scope["query_string"])
        if not key or version is None:
            return None
        audience = audience_of(caller)
        entry = self.cache.lookup(key, face_name(kind, version or None, audience))
        # JSON-LD is the publisher's page markup: syndication rights do not hold it back.
        syndicated = entry.syndication or kind == "jsonld" if entry is not None else False
        if entry is None or not audience.allows(entry.category, syndicated):
            return None  # the router answers, with a 404 where the caller may not see it
        return entry, FACE_ENDPOINTS[kind]


def _version(kind: str, query: bytes) -> str | None:
    """The ninjs version asked for ("" for JSON-LD); None for anything the router must judge."""
    if kind == "jsonld":
        return "" if not query else None
    if kind == "ninjs":
        return NINJS_QUERIES.get(query)
    return None
