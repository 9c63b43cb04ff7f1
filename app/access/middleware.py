"""Who is calling and how often: authenticate the bearer key and apply the rate limit."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from limits import RateLimitItem
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access import service
from app.access.ratelimit import Decision, RateLimiter, parse_limit
from app.access.service import KeyInfo
from app.core.errors import send_problem

LIMITED_PREFIX = "/v1/"
CHALLENGE = (b"www-authenticate", b'Bearer realm="byline"')


def _fingerprint(secret: str) -> bytes:
    """The cache's key for a secret: its SHA-256, so no secret is kept in the cache."""
    return hashlib.sha256(secret.encode()).digest()


class _Miss:
    """Not in the key cache (distinct from None, which caches an unknown key)."""


MISS = _Miss()


class KeyResolver:
    """Keys by the hash of their secret, remembered for a few seconds (also unknown ones).

    A revoked key therefore stops working within `ttl` seconds on every server, and at
    once on the server that revoked it.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], ttl: float, max_entries: int = 10_000
    ) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.max_entries = max_entries
        self._known: OrderedDict[bytes, tuple[KeyInfo | None, float]] = OrderedDict()
        self._pending: dict[bytes, asyncio.Future[KeyInfo | None]] = {}

    def cached(self, secret: str) -> KeyInfo | None | _Miss:
        """The key if it was looked up less than `ttl` seconds ago, else MISS."""
        cached = self._known.get(_fingerprint(secret))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return MISS

    async def resolve(self, secret: str) -> KeyInfo | None:
        known = self.cached(secret)
        if not isinstance(known, _Miss):
            return known
        # One lookup per key at a time: when an entry expires under load, every request
        # in flight with that key would otherwise query the database at once.
        fingerprint = _fingerprint(secret)
        pending = self._pending.get(fingerprint)
        if pending is None:
            pending = asyncio.ensure_future(self._load(fingerprint, secret))
            self._pending[fingerprint] = pending
            pending.add_done_callback(lambda _: self._pending.pop(fingerprint, None))
        return await asyncio.shield(pending)

    async def _load(self, fingerprint: bytes, secret: str) -> KeyInfo | None:
        async with self.sessions() as session:
            info = await service.authenticate(session, secret)
        self._known[fingerprint] = (info, time.monotonic() + self.ttl)
        self._known.move_to_end(fingerprint)
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)
        return info

    def forget(self, key_id: str) -> None:
        for digest, (info, _) in list(self._known.items()):
            if info is not None and info.id == key_id:
                del self._known[digest]


@dataclass(slots=True)  # not frozen: a frozen init costs ~0.2 µs per request
class Admission:
    """What the gate decided about one request: who it is, its limit headers, or a refusal."""

    key: KeyInfo | None
    headers: list[tuple[bytes, bytes]]
    refusal: tuple[int, str, list[tuple[bytes, bytes]]] | None = None


ANONYMOUS_UNLIMITED = Admission(None, [])


class Gate:
    """Authenticates the bearer key and counts the request against its rate limit.

    An unknown or revoked key is refused (401) on every route; a missing key is fine here
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

    async def admit(self, scope: Scope) -> Admission:
        state = scope.setdefault("state", {})
        if "admission" in state:
            admitted: Admission = state["admission"]
            return admitted
        admission = self._decide_now(scope)
        if admission is None:
            admission = await self._decide(scope)
        state["admission"] = admission
        state["api_key"] = admission.key
        return admission

    def _decide_now(self, scope: Scope) -> Admission | None:
        """The decision without awaiting anything, for a cached key counted in memory.

        This is every warm keyed read, so it is kept flat: no coroutines, one counter
        update. None when the key must be looked up or the counter lives in Redis.
        """
        credentials = _bearer(scope)
        if credentials is None and self.anonymous_limit is None:
            return ANONYMOUS_UNLIMITED
        if not credentials or self.limiter.local is None:
            return None
        key = self.keys.cached(credentials)
        if key is None or isinstance(key, _Miss):
            return None
        if not scope["path"].startswith(LIMITED_PREFIX):
            return Admission(key, [])
        item = parse_limit(key.rate_limit) if key.rate_limit else self.key_limit
        if item is None:
            return Admission(key, [])
        decision = self.limiter.hit_local(item, "key:" + key.id)
        return self._admission(key, decision)

    async def _decide(self, scope: Scope) -> Admission:
        credentials = _bearer(scope)
        if credentials is None and self.anonymous_limit is None:
            return ANONYMOUS_UNLIMITED
        key = None
        if credentials:
            # Synchronous when the key is cached (nearly always): no coroutine per request.
            key = self.keys.cached(credentials)
            if key is MISS:
                key = await self.keys.resolve(credentials)
        if credentials is not None and key is None:
            return Admission(
                None,
                [],
                (401, "The API key is missing, malformed, unknown or revoked.", [CHALLENGE]),
            )
        assert not isinstance(key, _Miss)
        decision = await self._count(scope, key)
        if decision is None:
            return Admission(key, [])
        return self._admission(key, decision)

    @staticmethod
    def _admission(key: KeyInfo | None, decision: Decision) -> Admission:
        if decision.allowed:
            return Admission(key, decision.headers())
        retry = (b"retry-after", str(max(1, decision.reset_seconds)).encode())
        return Admission(
            key,
            [],
            (429, "The rate limit was exceeded; retry later.", [*decision.headers(), retry]),
        )

    async def _count(self, scope: Scope, key: KeyInfo | None) -> Decision | None:
        if not scope["path"].startswith(LIMITED_PREFIX):
            return None
        if key is not None:
            item = parse_limit(key.rate_limit) if key.rate_limit else self.key_limit
            identity = "key:" + key.id
        else:
            item = self.anonymous_limit
            client = scope.get("client")
            identity = "ip:" + (client[0] if client else "unknown")
        if item is None:
            return None
        if self.limiter.local is not None:
            return self.limiter.hit_local(item, identity)
        return await self.limiter.hit(item, identity)


class AccessMiddleware:
    """Run every request through the gate: refuse it, or pass it on with its limit headers."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        admission = await self.gate.admit(scope)
        if admission.refusal is not None:
            status, detail, headers = admission.refusal
            await send_problem(scope, send, status, detail, headers)
            return
        if not admission.headers:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _with_headers(send, admission.headers))


def _bearer(scope: Scope) -> str | None:
    """The bearer secret; "" for a malformed Authorization header; None when there is none."""
    raw: bytes
    for name, raw in scope["headers"]:
        if name == b"authorization":
            if raw[:7].lower() != b"bearer ":
                return ""
            return raw[7:].strip().decode("latin-1")
    return None


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    return sender
