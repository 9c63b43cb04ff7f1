"""Who is calling and how often: authenticate the bearer key and apply the rate limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from limits import RateLimitItem
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from app.access import service
from app.access.ratelimit import Counter, Decision, RateLimiter, parse_limit
from app.access.service import KeyInfo
from app.core.errors import UNREACHABLE, send_problem
from app.core.middleware import with_headers

log = logging.getLogger("byline.access")
KEY_LOOKUP_FAILURES: tuple[type[Exception], ...] = (DBAPIError, *UNREACHABLE)
LIMITED_PREFIX = "/v1/"
CHALLENGE = (b"www-authenticate", b'Bearer realm="byline"')
UNKNOWN_KEY = "The API key is missing, malformed, unknown or revoked."


# The key cache holds a hash of each Authorization header, never the secret. BLAKE2s, not
# SHA-256: hashlib's SHA-256 goes through OpenSSL, whose per-call setup costs a keyed read
# ~0.3 µs more in place (the database still stores SHA-256 hashes: app/access/service.py).
FINGERPRINT = hashlib.blake2s


def _fingerprint(credentials: bytes) -> bytes:
    """The cache's key for an Authorization header."""
    return FINGERPRINT(credentials).digest()


@dataclass(slots=True)
class CachedKey:
    """A looked-up key (None: no live key has that secret) and, once used, its counter."""

    info: KeyInfo | None
    expires: float  # time.monotonic()
    counter: Counter | None = None  # set by the gate on the key's first limited request


class KeyResolver:
    """Keys by the hash of the Authorization header that named them, remembered for a few
    seconds (unknown ones too).

    A revoked key therefore stops working within `ttl` seconds on every server, and at
    once on the server that revoked it.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], ttl: float, max_entries: int = 10_000
    ) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.max_entries = max_entries
        self._known: OrderedDict[bytes, CachedKey] = OrderedDict()
        self._pending: dict[bytes, asyncio.Future[CachedKey]] = {}
        self._revocations: tuple[int, dt.datetime | None] | None = None  # as last seen

    def cached(self, credentials: bytes) -> CachedKey | None:
        """The entry if the key was looked up less than `ttl` seconds ago, else None."""
        cached = self._known.get(FINGERPRINT(credentials).digest())  # _fingerprint, inlined
        if cached is not None and cached.expires > time.monotonic():
            return cached
        return None

    async def resolve(self, credentials: bytes) -> CachedKey:
        """The entry for this Authorization header, from the database if it is not cached."""
        known = self.cached(credentials)
        if known is not None:
            return known
        # One lookup per key at a time: when an entry expires under load, every request
        # in flight with that key would otherwise query the database at once.
        fingerprint = _fingerprint(credentials)
        pending = self._pending.get(fingerprint)
        if pending is None:
            pending = asyncio.ensure_future(self._load(fingerprint, credentials))
            self._pending[fingerprint] = pending
            pending.add_done_callback(lambda _: self._pending.pop(fingerprint, None))
        return await asyncio.shield(pending)

    async def _load(self, fingerprint: bytes, credentials: bytes) -> CachedKey:
        secret = _bearer_secret(credentials)
        info = None
        if secret:
            async with self.sessions() as session:
                info = await service.authenticate(session, secret)
        entry = CachedKey(info, time.monotonic() + self.ttl)
        self._known[fingerprint] = entry
        self._known.move_to_end(fingerprint)
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)
        return entry

    async def follow_revocations(self, interval: float) -> None:
        """`check_revocations` every `interval` seconds, for the life of the server."""
        while True:
            await self.check_revocations()
            await asyncio.sleep(interval)

    async def check_revocations(self) -> None:
        """Forget every cached key if a key was revoked since the last look.

        A revocation by another process (`byline keys revoke`, another server) then takes
        effect here within the poll interval, not when the entries' `ttl` runs out; the
        next request of each key looks it up again (one query per key).
        """
        try:
            async with self.sessions() as session:
                latest = await service.revocations(session)
        except Exception:  # the database away: the ttl still bounds what is trusted
            return
        if self._revocations is not None and latest != self._revocations:
            self._known.clear()
        self._revocations = latest

    def forget(self, key_id: str) -> None:
        for digest, entry in list(self._known.items()):
            if entry.info is not None and entry.info.id == key_id:
                del self._known[digest]


@dataclass(slots=True)  # not frozen: a frozen init costs ~0.2 µs per request
class Admission:
    """What the gate decided about one request: who it is, its limit headers, or a refusal."""

    key: KeyInfo | None
    headers: list[tuple[bytes, bytes]]
    refusal: tuple[int, str, list[tuple[bytes, bytes]]] | None = None


ANONYMOUS_UNLIMITED = Admission(None, [])
# The counter of a key with no limit at all: nothing to count (compared by identity).
UNLIMITED = Counter(None, "", 0, 0, b"")


class Gate:
    """Authenticates the bearer key and counts the request against its rate limit.

    An unknown or revoked key is refused (401) on every /v1 route (outside /v1, where no
    route needs a key, it is ignored); a missing key is fine here
    (routes that need one say so). The admission is stored in scope["state"] so that a
    request is counted once even when it passes two layers that consult the gate.
    """

    def __init__(
        self, keys: KeyResolver, limiter: RateLimiter,
        anonymous_limit: RateLimitItem | None, key_limit: RateLimitItem | None,
    ) -> None:  # fmt: skip
        self.keys = keys
        self.limiter = limiter
        self.anonymous_limit = anonymous_limit
        self.key_limit = key_limit

    def admit_now(self, scope: Scope) -> Admission | None:
        """The admission if it needs nothing awaited (no key, or a cached one, counted in
        memory or not at all); None when `admit` must be awaited instead (a key to look up,
        an unknown key's 401, a counter in Redis).

        This is every warm read, keyed or not, so it is kept flat: no coroutine, one hash,
        one dictionary lookup, one counter update (docs/PERFORMANCE.md, issue #3).
        """
        state = scope.setdefault("state", {})
        admission: Admission | None = state.get("admission")
        if admission is None:
            admission = self._decide_now(scope)
            if admission is not None:
                state["admission"] = admission
                state["api_key"] = admission.key
        return admission

    async def admit(self, scope: Scope) -> Admission:
        admission = self.admit_now(scope)
        if admission is None:
            admission = await self._decide(scope)
            state = scope["state"]
            state["admission"] = admission
            state["api_key"] = admission.key
        return admission

    def _decide_now(self, scope: Scope) -> Admission | None:
        credentials: bytes | None = None
        for name, value in scope["headers"]:  # _authorization, inlined: every request
            if name == b"authorization":
                credentials = value
                break
        if credentials is None and self.anonymous_limit is None:
            return ANONYMOUS_UNLIMITED
        if self.limiter.local is None:
            return None  # the counter lives in Redis
        if credentials is None:
            return self._count_local(scope, None)
        cached = self.keys.cached(credentials)
        if cached is None or cached.info is None:
            return None  # a lookup to await, or a 401 to build
        counter = cached.counter
        if counter is None:
            counter = cached.counter = self._counter_of(scope, cached.info)
        if not scope["path"].startswith(LIMITED_PREFIX):
            return Admission(cached.info, self._peeked_local(counter))
        return self._counted(cached.info, counter)

    async def _decide(self, scope: Scope) -> Admission:
        credentials = _authorization(scope)
        key = None
        if credentials is not None:
            key = (await self.keys.resolve(credentials)).info
        counted = await self._count(scope, key)
        if credentials is None or key is not None or counted.refusal is not None:
            return counted
        if not scope["path"].startswith(LIMITED_PREFIX):
            # Probes, /docs and the dashboard page need no key, so a header they do not
            # need (a proxy's Basic credentials, say) must not fail them; /metrics with
            # a key required sees no key and answers 401 itself.
            return counted
        # An unknown key counts against its address's anonymous limit, so guessing keys
        # is throttled like any other anonymous traffic, and its 401 carries the headers.
        return Admission(None, [], (401, UNKNOWN_KEY, [CHALLENGE, *counted.headers]))

    async def peek(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The RateLimit headers for a response the limit does not count (a CORS
        preflight; `_count` does the same for routes outside /v1): the caller's counter as
        it stands. A preflight carries no credentials, so this is the address's anonymous
        counter unless a key already in the cache is named."""
        credentials = _authorization(scope)
        cached = self.keys.cached(credentials) if credentials is not None else None
        return await self._peek_for(scope, cached.info if cached is not None else None)

    async def _peek_for(self, scope: Scope, key: KeyInfo | None) -> list[tuple[bytes, bytes]]:
        if self.limiter.local is not None:
            return self._peeked_local(self._counter_of(scope, key))
        item, identity = self._limit_of(scope, key)
        return [] if item is None else await self.limiter.peek(item, identity)

    def _peeked_local(self, counter: Counter) -> list[tuple[bytes, bytes]]:
        return [] if counter is UNLIMITED else self.limiter.peek_local(counter)

    async def _count(self, scope: Scope, key: KeyInfo | None) -> Admission:
        if not scope["path"].startswith(LIMITED_PREFIX):
            # Probes, /docs, /metrics and the dashboard page are never refused (an
            # orchestrator must not see a busy address's 429 as a dead server) and not
            # counted, yet carry the caller's standing like every response.
            return Admission(key, await self._peek_for(scope, key))
        if self.limiter.local is not None:
            return self._count_local(scope, key)
        item, identity = self._limit_of(scope, key)
        decision = await self.limiter.hit(item, identity) if item is not None else None
        if decision is None:
            return Admission(key, [])
        if decision.allowed:
            return Admission(key, decision.headers())
        return self._refused(key, decision)

    def _count_local(self, scope: Scope, key: KeyInfo | None) -> Admission:
        counter = self._counter_of(scope, key)
        if not scope["path"].startswith(LIMITED_PREFIX):
            return Admission(key, self._peeked_local(counter))  # see _count
        return self._counted(key, counter)

    def _counted(self, key: KeyInfo | None, counter: Counter) -> Admission:
        if counter is UNLIMITED:
            return Admission(key, [])
        headers = self.limiter.count_local(counter)
        if headers is None:
            return self._refused(key, self.limiter.refusal(counter))
        return Admission(key, headers)

    def _counter_of(self, scope: Scope, key: KeyInfo | None) -> Counter:
        item, identity = self._limit_of(scope, key)
        return UNLIMITED if item is None else self.limiter.counter(item, identity)

    def _limit_of(self, scope: Scope, key: KeyInfo | None) -> tuple[RateLimitItem | None, str]:
        """The limit that applies to the caller, and whose counter it is."""
        if key is not None:
            item = parse_limit(key.rate_limit) if key.rate_limit else self.key_limit
            return item, "key:" + key.id
        client = scope.get("client")
        return self.anonymous_limit, "ip:" + (client[0] if client else "unknown")

    @staticmethod
    def _refused(key: KeyInfo | None, decision: Decision) -> Admission:
        retry = (b"retry-after", str(max(1, decision.reset_seconds)).encode())
        return Admission(
            key,
            [],
            (429, "The rate limit was exceeded; retry later.", [*decision.headers(), retry]),
        )


class AccessMiddleware:
    """Run every request through the gate: refuse it, or pass it on with its limit headers."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            admission = await self.gate.admit(scope)
        except KEY_LOOKUP_FAILURES as exc:  # no key lookup: nobody can say who this is
            await self._unavailable(scope, send, exc)
            return
        if admission.refusal is not None:
            status, detail, headers = admission.refusal
            await send_problem(scope, send, status, detail, headers)
            return
        if not admission.headers:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, with_headers(send, admission.headers))

    async def _unavailable(self, scope: Scope, send: Send, exc: Exception) -> None:
        """503 while the database cannot answer a key lookup (down, or not migrated yet),
        with the caller's standing as it is: the request is not counted."""
        log.warning("key lookup failed: %s", type(exc).__name__)
        headers = [(b"retry-after", b"1"), *await self.gate.peek(scope)]
        detail = "The key store is unavailable; retry shortly."
        await send_problem(scope, send, 503, detail, headers)


def _authorization(scope: Scope) -> bytes | None:
    """The Authorization header's value as sent, or None when there is none."""
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value
    return None


def _bearer_secret(credentials: bytes) -> str:
    """The secret of a `Bearer <secret>` header value; "" when it is not one."""
    if credentials[:7].lower() != b"bearer ":
        return ""
    return credentials[7:].strip().decode("latin-1")
