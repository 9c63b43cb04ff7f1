"""OpsMiddleware: every request the stack answers is timed, counted, logged and, on a
deprecated route, given its Deprecation, Sunset and Link headers. One send wrapper does all."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.routing import RouteTemplates
from app.ops.deprecation import RawHeaders, notice_of
from app.ops.metrics import UNMATCHED, Observer


class OpsMiddleware:
    """Sits inside HeadAsGetMiddleware, so it sees the scope the router fills in (`route`)."""

    def __init__(
        self, app: ASGIApp, observer: Observer, changelog_url: str,
        templates: RouteTemplates | None = None,
    ) -> None:  # fmt: skip
        self.app = app
        self.observer = observer
        self.changelog_url = changelog_url
        self.templates = templates  # names requests refused before routing (401, 429, 415)
        self._deprecation: dict[int, RawHeaders] = {}  # id(route) -> headers; [] if none

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before responding

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = self._headers(scope.get("route"))
                if extra:
                    message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.observer.done(scope, self._route(scope), status, started)

    def _route(self, scope: Scope) -> str:
        route = route_template(scope)
        if route == UNMATCHED and self.templates is not None:
            return self.templates.of(scope) or UNMATCHED
        return route

    def _headers(self, route: object) -> RawHeaders:
        if route is None:
            return []
        headers = self._deprecation.get(id(route))
        if headers is None:
            notice = notice_of(route)
            headers = notice.headers(self.changelog_url) if notice else []
            self._deprecation[id(route)] = headers
        return headers


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/articles/{key}`), never the raw path."""
    path_format = getattr(scope.get("route"), "path_format", None)
    return path_format if isinstance(path_format, str) else UNMATCHED
