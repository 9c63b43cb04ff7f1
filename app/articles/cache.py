"""The per-worker read cache: encoded article responses by id, kept fresh from the change log."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Change

log = logging.getLogger("byline.cache")

RawHeaders = list[tuple[bytes, bytes]]
GAP_GRACE_SECONDS = 10.0  # a missing seq older than this was a rolled-back insert
EVICTION_MEMORY = 10_000
MAX_GAPS = 1_000


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A ready-to-send public detail response for one revision of one article."""

    article_id: str
    slug: str
    category: str
    revision: int
    etag: str
    last_modified_epoch: float
    body: bytes
    headers: RawHeaders  # sent with 200
    headers_304: RawHeaders  # sent with 304
    face: str = ""  # "" is the v1 JSON article; other faces are syndication formats
    syndication: bool = True  # the article's rights.syndication (partners see only True)

    @property
    def size(self) -> int:
        return len(self.body) + 512


class ReadCache:
    """An LRU of responses, bounded in bytes, that forgets an article when the log says it changed.

    An article can have several faces cached (its v1 JSON, its ninjs, ...); forgetting the
    article forgets them all.

    A response is only stored if its article was not evicted after the moment its load
    began (`epoch`, read before the database read), so a slow request can never put back
    a revision that a concurrent write already replaced.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.watermark = 0  # highest change-log seq applied
        self.epoch = 0  # counts evictions
        self._cleared_at = 0
        self._entries: OrderedDict[tuple[str, str], CachedResponse] = OrderedDict()
        self._faces: dict[str, set[str]] = {}  # article id -> the faces cached for it
        self._slugs: dict[str, str] = {}
        self._bytes = 0
        self._evicted_at: OrderedDict[str, int] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def lookup(self, key: str, face: str = "") -> CachedResponse | None:
        """The cached `face` of the article with this id or slug."""
        article_id = key if key in self._faces else self._slugs.get(key, "")
        entry = self._entries.get((article_id, face))
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end((article_id, face))
        return entry

    def store(self, entry: CachedResponse, loaded_at: int) -> bool:
        if loaded_at < self._cleared_at or entry.size > self.max_bytes:
            return False
        if self._evicted_at.get(entry.article_id, -1) > loaded_at:
            return False
        self._drop_face((entry.article_id, entry.face))
        self._entries[(entry.article_id, entry.face)] = entry
        self._faces.setdefault(entry.article_id, set()).add(entry.face)
        self._slugs[entry.slug] = entry.article_id
        self._bytes += entry.size
        while self._bytes > self.max_bytes:
            self._drop_face(next(iter(self._entries)))
        return True

    def evict(self, article_id: str) -> None:
        self._drop(article_id)
        self.epoch += 1
        self._evicted_at[article_id] = self.epoch
        self._evicted_at.move_to_end(article_id)
        if len(self._evicted_at) > EVICTION_MEMORY:
            self._evicted_at.popitem(last=False)

    def clear(self) -> None:
        """Forget everything, and refuse what was loaded before this moment."""
        self.epoch += 1
        self._cleared_at = self.epoch
        for article_id in list(self._faces):
            self._drop(article_id)

    def _drop(self, article_id: str) -> None:
        for face in list(self._faces.get(article_id, ())):
            self._drop_face((article_id, face))

    def _drop_face(self, key: tuple[str, str]) -> None:
        old = self._entries.pop(key, None)
        if old is None:
            return
        self._bytes -= old.size
        faces = self._faces[old.article_id]
        faces.discard(old.face)
        if not faces:  # the article's last face: forget its slug too
            del self._faces[old.article_id]
            if self._slugs.get(old.slug) == old.article_id:
                del self._slugs[old.slug]

    def __len__(self) -> int:
        return len(self._entries)


class ChangeFollower:
    """Reads new change-log rows and evicts the articles they name.

    Sequence numbers can commit out of order on PostgreSQL, so a missing seq below the
    highest seen is re-checked on later polls until it appears or is old enough to be a
    rolled-back insert.
    """

    def __init__(self, cache: ReadCache, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.cache = cache
        self.sessions = sessions
        self.gaps: dict[int, float] = {}

    async def start(self) -> None:
        async with self.sessions() as session:
            self.cache.watermark = await session.scalar(select(func.max(Change.seq))) or 0
        # Anything cached before the log could be read may predate a change now behind us.
        self.cache.clear()

    async def poll(self) -> int:
        """Apply every change committed since the last poll; returns how many were new."""
        floor = min(self.gaps, default=self.cache.watermark + 1) - 1
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Change.seq, Change.article_id)
                    .where(Change.seq > floor)
                    .order_by(Change.seq)
                )
            ).all()
        fresh = [
            (seq, article_id)
            for seq, article_id in rows
            if seq > self.cache.watermark or seq in self.gaps
        ]
        for seq, article_id in fresh:
            self.gaps.pop(seq, None)
            self.cache.evict(article_id)
        self._note_gaps([seq for seq, _ in rows])
        return len(fresh)

    def _note_gaps(self, seen: list[int]) -> None:
        now = time.monotonic()
        top = max(seen, default=self.cache.watermark)
        known = set(seen)
        # A jump larger than MAX_GAPS is a sequence reset or restore, not a race.
        start = max(self.cache.watermark + 1, top - MAX_GAPS)
        for missing in range(start, top):
            if missing not in known:
                self.gaps.setdefault(missing, now)
        self.cache.watermark = max(self.cache.watermark, top)
        for seq, noticed in list(self.gaps.items()):
            if now - noticed > GAP_GRACE_SECONDS:
                del self.gaps[seq]

    async def run(self, interval: float) -> None:
        """Follow the log forever; until the first read succeeds (say, before migrations) retry it."""
        started = False
        while True:
            try:
                if started:
                    await self.poll()
                else:
                    await self.start()
                    started = True
            except Exception:  # the database may be away or not migrated yet; keep trying
                log.warning("change-log read failed; retrying", exc_info=True)
            await asyncio.sleep(interval)


class ListClock:
    """The lists' Last-Modified (app/articles/service.py `last_modified`), read again only
    when something changed.

    Reading it is a database round trip (~0.8 ms of CPU on SQLite), on every list, related
    and taxonomy request. A value is reused while the read cache has forgotten nothing
    (a write here evicts at once; one elsewhere within the change-log poll interval) and
    for at most `ttl` seconds, so an embargo lift, which writes nothing, is seen within
    that bound: the same bound as every other cached read (docs/PERFORMANCE.md).
    """

    def __init__(self, cache: ReadCache, ttl: float) -> None:
        self.cache = cache
        self.ttl = ttl
        self._value: dt.datetime | None = None
        self._epoch = -1
        self._until = 0.0

    async def last_modified(self, read: Callable[[], Awaitable[dt.datetime]]) -> dt.datetime:
        epoch, now = self.cache.epoch, time.monotonic()
        if self._value is not None and self._epoch == epoch and now < self._until:
            return self._value
        value = await read()
        if self.cache.epoch == epoch:  # nothing was forgotten while it was read
            self._value, self._epoch, self._until = value, epoch, now + self.ttl
        return value
