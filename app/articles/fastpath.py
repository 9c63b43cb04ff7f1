"""Answers anonymous GET /v1/articles/{id-or-slug} from the read cache without FastAPI or the database."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.articles.cache import CachedResponse, ReadCache
from app.core.http import is_not_modified

PREFIX = "/v1/articles/"


class CachedArticleMiddleware:
    """Serve a cached public detail response (200 or 304), or pass the request on.

    Only plain requests qualify: GET (HEAD arrives as GET), no query string. Everything
    else (and every miss) goes to the router, which fills the cache.
    """

    def __init__(self, app: ASGIApp, cache: ReadCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = self._entry_for(scope) if scope["type"] == "http" else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        if _is_fresh(scope, entry):
            await send({"type": "http.response.start", "status": 304, "headers": entry.headers_304})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
        await send({"type": "http.response.body", "body": entry.body})

    def _entry_for(self, scope: Scope) -> CachedResponse | None:
        path: str = scope["path"]
        if scope["method"] != "GET" or scope["query_string"] or not path.startswith(PREFIX):
            return None
        key = path[len(PREFIX) :]
        if not key or "/" in key:
            return None
        entry = self.cache.lookup(key)
        caller = scope.get("state", {}).get("api_key")  # set by AccessMiddleware
        if entry is not None and caller is not None and not caller.allows_category(entry.category):
            return None  # the router answers 404 for categories outside the key's limit
        return entry


def _is_fresh(scope: Scope, entry: CachedResponse) -> bool:
    inm = ims = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            inm = value.decode("latin-1")
        elif name == b"if-modified-since":
            ims = value.decode("latin-1")
    if inm is None and ims is None:
        return False
    return is_not_modified(inm, ims, entry.etag, entry.last_modified_epoch)
