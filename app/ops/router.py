"""GET /metrics (Prometheus; open like the probes, or `stats` keys only) and GET /v1/changelog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.responses import Response

from app.access.deps import CurrentKey, require_scope
from app.core.deps import AppSettings
from app.core.http import (
    PRIVATE_CACHE_CONTROL,
    etag_for,
    is_not_modified,
    json_bytes,
    public_cache_control,
)
from app.ops.deprecation import CHANGELOG_PATH, changelog
from app.ops.metrics import read_queue

router = APIRouter(tags=["operations"])
PROBLEMS: dict[int | str, dict[str, object]] = {
    401: {"description": "No or unknown key"},
    403: {"description": "Missing scope"},
}
_needs_stats = require_scope("stats")


async def _scraper(key: CurrentKey, settings: AppSettings) -> None:
    """Like /healthz and /readyz, /metrics is for the operator's own scraper (API.md section
    7): open by default, with BYLINE_METRICS_REQUIRE_KEY=true for a `stats` key. It holds
    request counts and latencies by route, never content, keys or names."""
    if settings.metrics_require_key:
        await _needs_stats(key, None)


Scraper = Annotated[None, Depends(_scraper)]


@router.get(
    "/metrics",
    operation_id="metrics",
    responses={**PROBLEMS, 200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(request: Request, _: Scraper, settings: AppSettings) -> Response:
    """Prometheus metrics of this process (text exposition format)."""
    state = request.app.state
    # Read from the database here, not in the collector: collect() cannot await.
    state.metrics_collector.queue = await read_queue(state.sessions, settings.metrics_queue_timeout)
    return Response(
        generate_latest(state.metrics_registry),
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": PRIVATE_CACHE_CONTROL},
    )


class ChangelogEntry(BaseModel):
    """A deprecated route: when it was deprecated, when it goes away, what replaces it."""

    kind: str
    methods: list[str]
    path: str
    since: str
    sunset: str
    note: str
    successor: str | None = None


class Changelog(BaseModel):
    data: list[ChangelogEntry]


@router.get(CHANGELOG_PATH, operation_id="getChangelog", response_model=Changelog)
async def get_changelog(request: Request, settings: AppSettings) -> Response:
    """Deprecated routes and their sunset dates (no key needed)."""
    # Iterated through FastAPI's route contexts: included routers hold their routes inside.
    body = json_bytes({"data": changelog(iter_route_contexts(request.app.routes))})
    etag = etag_for(body)
    headers = {"ETag": etag, "Cache-Control": public_cache_control(settings)}
    if is_not_modified(request.headers.get("if-none-match"), None, etag, None):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
