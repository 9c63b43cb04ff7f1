"""Mounts every feature router under /v1."""

from fastapi import APIRouter, FastAPI

from app.access.router import router as keys_router
from app.articles.editorial import router as editorial_router
from app.articles.router import router as articles_router
from app.ingest.router import router as imports_router

V1_ROUTERS: tuple[APIRouter, ...] = (articles_router, editorial_router, imports_router, keys_router)


def mount_v1(app: FastAPI) -> None:
    # Each feature router declares the /v1 prefix itself: a route then knows its full path
    # template (route.path_format), which usage accounting and metrics report.
    for router in V1_ROUTERS:
        assert router.prefix.startswith("/v1"), router.prefix
        app.include_router(router)
