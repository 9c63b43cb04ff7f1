"""Putting routers into an application, and what its routes allow."""

from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Serve `router`'s routes as they were built when its module was imported.

    `app.include_router` would have FastAPI build every route a second time, for this app,
    on its first request (~80 ms for ours, paid by each worker and by every test's app)
    and look its routes up through one more layer on every request. Our routers carry
    their whole path and settings themselves, so there is nothing to combine. What this
    gives up is `app.dependency_overrides`, which nothing here uses (tests run the real
    dependencies against real databases).
    """
    # Start-up and shutdown handlers of a router come into the app only by include_router.
    assert not router.on_startup, "include_router a router with start-up handlers"
    assert not router.on_shutdown, "include_router a router with shutdown handlers"
    app.router.routes.extend(router.routes)


def allowed_methods(app: Starlette, scope: Scope) -> str:
    """The `Allow` header of a 405: the methods of every route whose path matches.

    Starlette names only the first such route's methods, and ours have a route per method
    (`GET` and `POST /v1/articles` are two), so a `PUT` would be told to use only `GET`.
    """
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")  # every GET answers HEAD too (HeadAsGetMiddleware)
    return ", ".join(sorted(methods))


def slash_redirect(app: Starlette, scope: Scope) -> str | None:
    """Where a path with a trailing slash would be served without it (a 307 there), or None.

    Relative, unlike Starlette's own redirect, which builds the URL from the request's Host
    header: a forged Host must not come back in a Location a cache may keep.
    """
    path: str = scope["path"]
    if len(path) < 2 or not path.endswith("/"):
        return None
    target = path.rstrip("/") or "/"
    bare = {**scope, "path": target}
    if not any(
        isinstance(r, Route) and r.matches(bare)[0] != Match.NONE for r in app.router.routes
    ):
        return None
    query: bytes = scope.get("query_string", b"")
    return target + ("?" + query.decode("latin-1") if query else "")


class RouteTemplates:
    """The route template of a request that never reached the router (refused by the gate:
    401, 415, 429…), so usage and metrics count it under its endpoint, not as unmatched."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._routes: list[BaseRoute] | None = None  # the app's routes, once it has them all

    def of(self, scope: Scope) -> str | None:
        if self._routes is None:
            self._routes = [context.route for context in iter_route_contexts(self.app.routes)]
        partial = None
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return path_template(route)
            if match is Match.PARTIAL and partial is None:
                partial = path_template(route)  # the path matches, the method does not (405)
        return partial


def path_template(route: BaseRoute) -> str | None:
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else None
