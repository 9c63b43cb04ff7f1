"""The fast lane: warm public article GETs answered from the read cache, before the stack.

A cache hit costs one header scan, the gate (key and rate limit) and two ASGI messages;
it never reaches FastAPI's routing or the database. It does what the middleware stack
would do for the same request (request id, limits, CORS, usage, conditional GET), using
the same objects, and anything unusual simply takes the normal path. Other features add
their own cached GETs as routes (feeds, ninjs and JSON-LD: app/syndication/cache.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from app.access.middleware import Admission, Gate
from app.access.service import KeyInfo
from app.access.usage import UsageRecorder
from app.articles.cache import CachedResponse, ReadCache
from app.core.errors import send_problem
from app.core.http import is_not_modified
from app.core.middleware import request_id_for
from app.ops.metrics import Observer

PREFIX = "/v1/articles/"
ENDPOINT = "/v1/articles/{key}"
RawHeaders = list[tuple[bytes, bytes]]
# What CORSMiddleware puts on every response it passes: whether a response carries
# Access-Control-Allow-Origin depends on the request's Origin, so a shared cache must
# not give one browser the copy fetched without it (or for another origin).
VARY = (b"vary", b"Origin")


class Servable(Protocol):
    """A ready response: what the lane needs to answer 200 or 304 with it."""

    @property
    def etag(self) -> str: ...
    @property
    def last_modified_epoch(self) -> float: ...
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> RawHeaders: ...
    @property
    def headers_304(self) -> RawHeaders: ...


class CachedRoute(Protocol):
    """GETs another feature answers from its own cache (app/syndication/cache.py).

    Unlike the article detail, what they answer depends on the caller's key, so the lane
    admits the request first and then asks the route; any None leaves it to the stack.
    """

    def wants(self, scope: Scope) -> bool:
        """A cheap look at the path and query: is this request one of the route's?"""

    def find(self, scope: Scope, caller: KeyInfo | None) -> tuple[Servable, str] | None:
        """The cached response this caller may have, and the endpoint to count it under."""


class FastLane:
    def __init__(
        self, cache: ReadCache, gate: Gate, usage: UsageRecorder, cors: CORSMiddleware,
        routes: Sequence[CachedRoute] = (), observer: Observer | None = None,
    ) -> None:  # fmt: skip
        self.cache = cache
        self.gate = gate
        self.usage = usage
        self.cors = cors
        self.routes = tuple(routes)
        self.observer = observer  # metrics and the request log (app/ops/metrics.py)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request if it is a warm public read; False leaves it to the stack."""
        started = time.perf_counter()
        entry = self._entry_for(scope)
        if entry is None:
            return await self._route(scope, send, started)
        admission = self.gate.admit_now(scope) or await self._admit(scope)
        if admission is None:
            return False
        caller = admission.key
        if (
            caller is not None
            and caller.categories is not None  # KeyInfo.allows_category, inlined
            and entry.category not in caller.categories
            and admission.refusal is None
        ):
            return False  # the router answers 404 outside the key's categories
        extra: RawHeaders = [(b"x-request-id", request_id_for(scope)), VARY, *admission.headers]
        if scope["method"] == "HEAD" or any(name == b"origin" for name, _ in scope["headers"]):
            send, extra = self._decorated(scope, send, extra), []
        status = await self._respond(scope, send, entry, admission, extra)
        self.usage.record(caller.id if caller else "", ENDPOINT, status)
        if self.observer is not None:
            self.observer.done(scope, ENDPOINT, status, started)
        return True

    async def _route(self, scope: Scope, send: Send, started: float) -> bool:
        if not self.routes or not _readable(scope):
            return False
        route = next((r for r in self.routes if r.wants(scope)), None)
        if route is None:
            return False
        admission = self.gate.admit_now(scope) or await self._admit(scope)
        if admission is None or admission.refusal is not None:
            return False  # the stack refuses it, with this same admission
        found = route.find(scope, admission.key)
        if found is None:
            return False
        entry, endpoint = found
        extra: RawHeaders = [(b"x-request-id", request_id_for(scope)), VARY, *admission.headers]
        if scope["method"] == "HEAD" or any(name == b"origin" for name, _ in scope["headers"]):
            send, extra = self._decorated(scope, send, extra), []
        status = await _send_cached(scope, send, entry, extra)
        self.usage.record(admission.key.id if admission.key else "", endpoint, status)
        if self.observer is not None:
            self.observer.done(scope, endpoint, status, started)
        return True

    async def _admit(self, scope: Scope) -> Admission | None:
        """The gate's answer when it had to await one (a key to look up, a shared counter)."""
        try:
            return await self.gate.admit(scope)
        except Exception:  # e.g. the key lookup failed: the stack reports it properly
            return None

    def _entry_for(self, scope: Scope) -> CachedResponse | None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or scope["query_string"]
        ):
            return None
        path: str = scope["path"]
        if not path.startswith(PREFIX) or "/" in path[len(PREFIX) :]:
            return None
        return self.cache.lookup(path[len(PREFIX) :])

    def _decorated(self, scope: Scope, send: Send, extra: RawHeaders) -> Send:
        """For CORS or HEAD: add the headers on the way out, and CORS's, and drop the body."""
        head = scope["method"] == "HEAD"
        origin = any(name == b"origin" for name, _ in scope["headers"])
        if origin:  # CORSMiddleware adds its own Vary: Origin
            extra = [header for header in extra if header is not VARY]

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], *extra]
                if origin:
                    await self.cors.send(message, send, Headers(scope=scope))
                    return
            elif head:
                message = {**message, "body": b""}
            await send(message)

        return sender

    async def _respond(
        self,
        scope: Scope,
        send: Send,
        entry: CachedResponse,
        admission: Admission,
        extra: RawHeaders,
    ) -> int:
        if admission.refusal is not None:
            status, detail, headers = admission.refusal
            await send_problem(scope, send, status, detail, [*headers, *extra])
            return status
        return await _send_cached(scope, send, entry, extra)


def _readable(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["method"] in ("GET", "HEAD")


async def _send_cached(scope: Scope, send: Send, entry: Servable, extra: RawHeaders) -> int:
    """200 with the cached response, or 304 if the client's copy is current."""
    if _is_fresh(scope, entry):
        start = {
            "type": "http.response.start",
            "status": 304,
            "headers": entry.headers_304 + extra,
        }
        await send(start)
        await send({"type": "http.response.body", "body": b""})
        return 304
    await send({"type": "http.response.start", "status": 200, "headers": entry.headers + extra})
    await send({"type": "http.response.body", "body": entry.body})
    return 200


def _is_fresh(scope: Scope, entry: Servable) -> bool:
    inm = ims = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            inm = value.decode("latin-1")
        elif name == b"if-modified-since":
            ims = value.decode("latin-1")
    if inm is None and ims is None:
        return False
    return is_not_modified(inm, ims, entry.etag, entry.last_modified_epoch)
