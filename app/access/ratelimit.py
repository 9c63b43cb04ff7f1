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


@dataclass(slots=True)  # not frozen: a frozen init costs ~0.2 µs per request
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    limit_header: bytes | None = None  # the limit, already encoded

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", self.limit_header or b"%d" % self.limit),
            (b"ratelimit-remaining", b"%d" % self.remaining),
            (b"ratelimit-reset", b"%d" % self.reset_seconds),
        ]


# (item, storage key, window seconds, encoded limit) of one identity's counter
_Counter = tuple[RateLimitItem, str, int, bytes]
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
        self._expire(now)
        count = self.counts.get(key, 0) + amount
        self.counts[key] = count
        if count == amount:  # a new window starts with this hit
            expires_at = now + expiry
            self.expiries[key] = expires_at
            heapq.heappush(self._deadlines, (expires_at, key))
            return count, expires_at
        return count, self.expiries[key]

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
        self._counters: dict[str, _Counter] = {}
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
        """Count one request; None when the store is unavailable (the request goes through)."""
        if self.local is not None:
            return self.hit_local(item, identity)
        assert self.limiter is not None
        try:
            allowed = await self.limiter.hit(item, "byline", identity)
            reset_at, remaining = await self.limiter.get_window_stats(item, "byline", identity)
        except Exception as exc:  # any store failure: fail open
            self._store_failed(exc)
            return None
        self.last_error = None
        return _decision(item, allowed, remaining, reset_at)

    def hit_local(self, item: RateLimitItem, identity: str) -> Decision:
        """The fixed-window step of `limits`' FixedWindowRateLimiter, against the storage.

        The strategy's `hit` + `get_window_stats` build the storage key three times and
        read the counter twice (~4 µs, most of a keyed read's budget); this counts once,
        gets the window's end with it, and reuses the identity's key and limit header.
        """
        assert self.local is not None
        known = self._counters.get(identity)
        if known is None or known[0] is not item:
            known = self._counter_for(item, identity)
        _, counter, expiry, limit_header = known
        now = time.time()
        count, reset_at = self.local.count(counter, expiry, 1, now)
        amount = item.amount
        remaining = amount - count if count < amount else 0
        reset = math.ceil(reset_at - now)
        return Decision(count <= amount, amount, remaining, reset if reset > 0 else 0, limit_header)

    def _counter_for(self, item: RateLimitItem, identity: str) -> _Counter:
        if len(self._counters) >= MAX_COUNTERS:  # many anonymous addresses: start over
            self._counters.clear()
        expiry = item.get_expiry()
        known = (item, f"{identity}/{item.amount}/{expiry}", expiry, b"%d" % item.amount)
        self._counters[identity] = known
        return known

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
