"""/readyz in-process: 503 with a reason that says what is wrong (tests/ops/test_processes.py
stops and restarts a real PostgreSQL under a running server)."""

from __future__ import annotations

import httpx

from app.core.config import Settings
from app.main import Byline, create_app
from tests.conftest import BASE_URL


async def readyz(app: Byline) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        return await client.get("/readyz")


async def test_ready_when_migrated_to_head(app):
    response = await readyz(app)
    assert response.status_code == 200
    assert response.json()["migration"] == app.state.migration_head


async def test_migrations_behind_is_503_naming_both_revisions(app):
    current = app.state.migration_head
    app.state.migration_head = "2099_01_01_a_newer_revision"  # code deployed before `migrate`
    response = await readyz(app)
    assert response.status_code == 503
    assert response.headers["cache-control"] == "no-store"
    reason = response.json()["reason"]
    assert reason.startswith("migrations behind")
    assert current in reason
    assert "2099_01_01_a_newer_revision" in reason


async def test_an_empty_database_is_not_migrated(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    try:
        response = await readyz(app)
    finally:
        await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json()["reason"].startswith("database not migrated")


async def test_an_unreachable_database_is_503_not_500():
    app = create_app(Settings(database_url="postgresql://postgres@127.0.0.1:9/none"))
    try:
        response = await readyz(app)
    finally:
        await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reason": "database unreachable: ConnectionRefusedError",
    }
