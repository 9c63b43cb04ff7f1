"""Who is calling and how often: authenticate the bearer key and apply the rate limit."""

from __future__ import annotations

import time
from collections import OrderedDict

from limits import RateLimitItem
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access import service
from app.access.ratelimit import Decision, RateLimiter, parse_limit
from app.access.service import KeyInfo
from app.core.errors import send_problem

LIMITED_PREFIX = "/v1/"
CHALLENGE = (b"www-authenticate", b'Bearer realm="byline"')


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
        self._known: OrderedDict[str, tuple[KeyInfo | None, float]] = OrderedDict()

    async def resolve(self, secret: str) -> KeyInfo | None:
        digest = service.hash_secret(secret)
        cached = self._known.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self.sessions() as session:
            info = await service.authenticate(session, secret)
        self._known[digest] = (info, time.monotonic() + self.ttl)
        self._known.move_to_end(digest)
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)
        return info

    def forget(self, key_id: str) -> None:
        for digest, (info, _) in list(self._known.items()):
            if info is not None and info.id == key_id:
                del self._known[digest]


class AccessMiddleware:
    """Authenticate `Authorization: Bearer`, then count the request against its limit.

    An unknown or revoked key is a 401 on every route; a missing key is fine here (routes
    that need one say so). The key lands in scope["state"]["api_key"].
    """

    def __init__(
        self, app: ASGIApp, keys: KeyResolver, limiter: RateLimiter,
        anonymous_limit: RateLimitItem | None, key_limit: RateLimitItem | None,
    ) -> None:  # fmt: skip
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.anonymous_limit = anonymous_limit
        self.key_limit = key_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        credentials = _bearer(scope)
        key: KeyInfo | None = None
        if credentials is not None:
            key = await self.keys.resolve(credentials) if credentials else None
            if key is None:
                detail = "The API key is missing, malformed, unknown or revoked."
                await send_problem(scope, send, 401, detail, [CHALLENGE])
                return
        state["api_key"] = key
        decision = await self._count(scope, key)
        if decision is not None and not decision.allowed:
            headers = [
                *decision.headers(),
                (b"retry-after", str(max(1, decision.reset_seconds)).encode()),
            ]
            await send_problem(
                scope, send, 429, "The rate limit was exceeded; retry later.", headers
            )
            return
        if decision is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _with_headers(send, decision.headers()))

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
        return await self.limiter.hit(item, identity)


def _bearer(scope: Scope) -> str | None:
    """The bearer secret; "" for a malformed Authorization header; None when there is none."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else ""
    return None


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    return sender
