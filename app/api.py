"""Mounts every feature router under /v1."""

from fastapi import APIRouter

from app.access.router import router as keys_router
from app.articles.editorial import router as editorial_router
from app.articles.router import router as articles_router
from app.ingest.router import router as imports_router

v1 = APIRouter(prefix="/v1")
v1.include_router(articles_router)
v1.include_router(editorial_router)
v1.include_router(imports_router)
v1.include_router(keys_router)
