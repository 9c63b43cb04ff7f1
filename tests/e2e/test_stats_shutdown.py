"""A real `byline serve` keeps every request and read it counted when stopped with SIGTERM."""

from __future__ import annotations

import os
import signal

import pytest
from sqlalchemy import func, select

from app.core.db import make_engine
from app.models import ArticleViewsDaily, UsageDaily
from tests.e2e.conftest import Database, create_key, launch, stop, wait_until_up

pytestmark = pytest.mark.e2e

SEED_SLUG = "deepening-china-russia-ties-challenge-us-led-order-amid-global-concerns"
READS = 7


async def stored(database: Database, article_id: str, key_id: str) -> tuple[int, int]:
    """(reads of the article, requests of the key) in the database."""
    engine = make_engine(database.url)
    try:
        async with engine.connect() as conn:
            views = await conn.scalar(
                select(func.coalesce(func.sum(ArticleViewsDaily.count), 0)).where(
                    ArticleViewsDaily.article_id == article_id
                )
            )
            requests = await conn.scalar(
                select(func.coalesce(func.sum(UsageDaily.count), 0)).where(
                    UsageDaily.key_id == key_id, UsageDaily.endpoint == "/v1/articles/{key}"
                )
            )
    finally:
        await engine.dispose()
    return int(views or 0), int(requests or 0)


async def test_sigterm_flushes_usage_and_views(e2e_database: Database) -> None:
    secret = create_key(e2e_database, "stats")
    headers = {"Authorization": f"Bearer {secret}"}
    server = launch(e2e_database)
    try:
        wait_until_up(server, "/readyz")
        with server.client() as client:
            key_id = client.get("/v1/keys/me", headers=headers).json()["id"]
            article_id = client.get(f"/v1/articles/{SEED_SLUG}").json()["id"]
            views_before, _ = await stored(e2e_database, article_id, key_id)
            for _ in range(READS):
                assert client.get(f"/v1/articles/{SEED_SLUG}", headers=headers).status_code == 200
            assert client.post(f"/v1/articles/{article_id}/views").status_code == 202
            assert client.post(f"/v1/articles/{article_id}/views").status_code == 204
        os.killpg(server.process.pid, signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0, server.log_tail()
    finally:
        stop(server)
    assert await stored(e2e_database, article_id, key_id) == (views_before + 1, READS)
