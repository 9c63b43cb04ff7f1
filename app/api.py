"""Mounts every feature router under /v1."""

from fastapi import APIRouter, FastAPI

from app.access.router import router as keys_router
from app.articles.editorial import router as editorial_router
from app.articles.router import router as articles_router
from app.changes.router import router as changes_router
from app.core.routing import add_routes
from app.ingest.router import router as imports_router
from app.stats.router import router as stats_router
from app.syndication.router import router as syndication_router
from app.webhooks.router import router as webhooks_router
from app.webhooks.stats import router as webhook_stats_router

V1_ROUTERS: tuple[APIRouter, ...] = (
    articles_router, editorial_router, imports_router, keys_router, syndication_router,
    webhooks_router, changes_router, webhook_stats_router, stats_router,
)  # fmt: skip


def mount_v1(app: FastAPI) -> None:
    # Each feature router declares the /v1 prefix itself: a route then knows its full path
    # template (route.path_format), which usage accounting and metrics report.
    for router in V1_ROUTERS:
        assert router.prefix.startswith("/v1"), router.prefix
        add_routes(app, router)
