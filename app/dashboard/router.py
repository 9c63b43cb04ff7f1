"""GET /dashboard: the internal statistics page, a static page over /v1/stats (API.md §7, §9).

The page holds no data and needs no key to load: it asks the reader for a stats key and
sends it with each API call it makes. Its script, styles and chart library are served from
`static/`, so nothing is fetched from elsewhere at run time.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from app.core.routing import add_routes

STATIC = Path(__file__).with_name("static")
STATIC_PATH = "/dashboard/static"

# The page runs only its own files and talks only to this origin: a CSP that says so keeps
# injected markup (were any ever to slip through) from running or sending data away.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/dashboard")
async def dashboard() -> FileResponse:
    """The dashboard page."""
    return FileResponse(
        STATIC / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


@router.get("/dashboard/")
async def dashboard_with_slash() -> RedirectResponse:
    """To /dashboard, by a relative address: behind a proxy that serves Byline under a path
    prefix, an absolute one would leave the prefix (the page's own links are relative)."""
    return RedirectResponse("../dashboard", status_code=308)


def mount_dashboard(app: FastAPI) -> None:
    add_routes(app, router)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="dashboard-static")
