"""Rate limits per key (or per client address) with the `limits` library, in memory or Redis."""

from __future__ import annotations

import functools
import heapq
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import Storage as SyncStorage

log = logging.getLogger("byline.ratelimit")
WARN_EVERY_SECONDS = 30.0


@functools.lru_cache(maxsize=256)
def parse_limit(value: str | None) -> RateLimitItem | None:
    """`N/second|minute|hour|day` as a limit; `none` (or empty) means no limit."""
    if value is None or value.strip().lower() in ("", "none"):
        return None
    return parse(value)


RawHeaders = list[tuple[bytes, bytes]]


LIMIT, REMAINING, RESET = b"ratelimit-limit", b"ratelimit-remaining", b"ratelimit-reset"


def limit_headers(limit: bytes, remaining: int, reset_seconds: int) -> RawHeaders:
    """RateLimit-Limit, -Remaining and -Reset, as sent on every /v1 response."""
    return [(LIMIT, limit), (REMAINING, b"%d" % remaining), (RESET, b"%d" % reset_seconds)]


@dataclass(slots=True)  # not frozen: a frozen init costs ~0.2 µs per request
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> RawHeaders:
        return limit_headers(b"%d" % self.limit, self.remaining, self.reset_seconds)


@dataclass(slots=True, frozen=True)
class Counter:
    """One identity's counter for one limit: its storage key, made once and then reused."""

    item: RateLimitItem | None  # None: a placeholder that counts nothing
    key: str  # in the storage: identity/amount/window
    window: int  # seconds
    amount: int
    limit_header: bytes  # the amount, already encoded for RateLimit-Limit


MAX_COUNTERS = 100_000


class LoopMemoryStorage(SyncStorage):
    """A `limits` storage for counters that live in one asyncio worker.

    The library's own MemoryStorage guards every key with a lock and, while requests
    keep coming, starts a `threading.Timer` every 10 ms to sweep all keys; on a busy
    worker that thread competes for the GIL and cost keyed reads ~40% of their rate
    (docs/PERFORMANCE.md). Here every call runs on the event loop, so no lock is needed,
    and expired windows are dropped as they are met, oldest first, from a heap: each
    call does O(log n) work, and there is no thread.
    """

    STORAGE_SCHEME = ["byline-loop-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.counts: dict[str, int] = {}
        self.expiries: dict[str, float] = {}
        self._deadlines: list[tuple[float, str]] = []

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _expire(self, now: float) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            expires_at, key = heapq.heappop(deadlines)
            if self.expiries.get(key) == expires_at:
                del self.counts[key], self.expiries[key]

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.count(key, expiry, amount, time.time())[0]

    def count(self, key: str, expiry: int, amount: int, now: float) -> tuple[int, float]:
        """Add `amount` to the key's window (opening one if needed): (count, window end).

        Not part of the `limits` Storage API, so not wrapped by its error translation: the
        keyed read path calls it once per request, and there is nothing here to translate.
        """
        deadlines = self._deadlines
        if deadlines and deadlines[0][0] <= now:  # checked here: a call per request costs
            self._expire(now)
        count = self.counts.get(key, 0) + amount
        self.counts[key] = count
        if count == amount:  # a new window starts with this hit
            expires_at = now + expiry
            self.expiries[key] = expires_at
            heapq.heappush(self._deadlines, (expires_at, key))
            return count, expires_at
        return count, self.expiries[key]

    def current(self, key: str, now: float) -> tuple[int, float | None]:
        """The key's count in its open window and the window's end (None: no window open)."""
        if self._deadlines and self._deadlines[0][0] <= now:
            self._expire(now)
        count = self.counts.get(key)
        return (0, None) if count is None else (count, self.expiries[key])

    def get(self, key: str) -> int:
        self._expire(time.time())
        return self.counts.get(key, 0)

    def get_expiry(self, key: str) -> float:
        return self.expiries.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        cleared = len(self.counts)
        self.counts.clear()
        self.expiries.clear()
        self._deadlines.clear()
        return cleared

    def clear(self, key: str) -> None:
        self.counts.pop(key, None)
        self.expiries.pop(key, None)


def _decision(item: RateLimitItem, allowed: bool, remaining: int, reset_at: float) -> Decision:
    reset = max(0, math.ceil(reset_at - time.time()))
    return Decision(allowed, item.amount, max(0, remaining), reset)


class RateLimiter:
    """Counts requests in fixed windows; shared across processes when backed by Redis.

    If the shared store fails, requests are let through (fail open) and the failure is
    logged and reported by /readyz: limits protect the service, they must not take it down.
    """

    def __init__(self, storage: Storage | None, *, shared: bool) -> None:
        self.storage = storage
        self.shared = shared
        self.limiter = FixedWindowRateLimiter(storage) if storage is not None else None
        # In memory, a synchronous store: the asyncio MemoryStorage starts a task per hit.
        self.local = LoopMemoryStorage() if storage is None else None
        self._counters: dict[str, Counter] = {}
        self.last_error: str | None = None
        self._last_warning = 0.0

    @classmethod
    def from_url(cls, redis_url: str | None) -> RateLimiter:
        if redis_url:
            uri = redis_url.replace("redis://", "async+redis://", 1).replace(
                "rediss://", "async+rediss://", 1
            )
            return cls(RedisStorage(uri, implementation="redispy"), shared=True)
        return cls(None, shared=False)

    async def hit(self, item: RateLimitItem, identity: str) -> Decision | None:
        """Count one request in the shared store; None when it is unavailable (the request
        goes through). In memory, `counter` and `count_local` do this without awaiting."""
        if self.limiter is None:
            raise RuntimeError("counters in memory are counted with count_local")
        try:
            allowed = await self.limiter.hit(item, "byline", identity)
            reset_at, remaining = await self.limiter.get_window_stats(item, "byline", identity)
        except Exception as exc:  # any store failure: fail open
            self._store_failed(exc)
            return None
        self.last_error = None
        return _decision(item, allowed, remaining, reset_at)

    def counter(self, item: RateLimitItem, identity: str) -> Counter:
        """The identity's counter for this limit, made once (a hot path may keep it)."""
        known = self._counters.get(identity)
        if known is not None and known.item is item:
            return known
        if len(self._counters) >= MAX_COUNTERS:  # many anonymous addresses: start over
            self._counters.clear()
        expiry = item.get_expiry()
        known = Counter(item, f"{identity}/{item.amount}/{expiry}", expiry, item.amount,
                        b"%d" % item.amount)  # fmt: skip
        self._counters[identity] = known
        return known

    def count_local(self, counter: Counter) -> RawHeaders | None:
        """Count one request in memory: its RateLimit headers, or None when it is over the
        limit (`refusal` then says until when).

        This is the fixed-window step of `limits`' FixedWindowRateLimiter. The strategy's
        `hit` + `get_window_stats` build the storage key three times and read the counter
        twice (~4 µs, more than a keyed read's budget); this counts once and gets the
        window's end with it. It runs on every keyed read, hence no Decision object.
        """
        assert self.local is not None
        now = time.time()
        count, reset_at = self.local.count(counter.key, counter.window, 1, now)
        if count > counter.amount:
            return None
        reset = math.ceil(reset_at - now)
        # limit_headers, inlined (~0.1 µs a keyed read)
        return [
            (LIMIT, counter.limit_header),
            (REMAINING, b"%d" % (counter.amount - count)),
            (RESET, b"%d" % (reset if reset > 0 else 0)),
        ]

    def peek_local(self, counter: Counter) -> RawHeaders:
        """The RateLimit headers of a counter as it stands, without counting a request."""
        assert self.local is not None
        now = time.time()
        count, reset_at = self.local.current(counter.key, now)
        reset = counter.window if reset_at is None else max(0, math.ceil(reset_at - now))
        return limit_headers(counter.limit_header, max(0, counter.amount - count), reset)

    async def peek(self, item: RateLimitItem, identity: str) -> RawHeaders:
        """`peek_local` for a counter in the shared store; no headers when it is unavailable."""
        if self.limiter is None:
            raise RuntimeError("counters in memory are read with peek_local")
        try:
            reset_at, remaining = await self.limiter.get_window_stats(item, "byline", identity)
        except Exception as exc:  # any store failure: fail open, as `hit` does
            self._store_failed(exc)
            return []
        return _decision(item, True, remaining, reset_at).headers()

    def refusal(self, counter: Counter) -> Decision:
        """The decision for a counter that `count_local` found over its limit."""
        assert self.local is not None
        reset = math.ceil(self.local.get_expiry(counter.key) - time.time())
        return Decision(False, counter.amount, 0, max(reset, 0))

    def _store_failed(self, exc: Exception) -> None:
        self.last_error = (
            f"rate-limit store unavailable ({type(exc).__name__}); limits not enforced"
        )
        now = time.monotonic()
        if now - self._last_warning > WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning("rate-limit store failed, failing open: %s", exc)

    async def healthy(self) -> bool:
        if self.storage is None:
            return True
        try:
            return bool(await self.storage.check())
        except Exception:
            return False
