"""Mounts every feature router under /v1."""

from fastapi import APIRouter

from app.access.router import router as keys_router
from app.articles.router import router as articles_router

v1 = APIRouter(prefix="/v1")
v1.include_router(articles_router)
v1.include_router(keys_router)
