"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import Response

from app.core.http import json_bytes
from app.core.paths import ALEMBIC_INI

router = APIRouter(tags=["operations"])
log = logging.getLogger("byline.health")


def migration_head() -> str | None:
    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()


def _json(data: object, status: int = 200) -> Response:
    return Response(
        json_bytes(data),
        status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/healthz", operation_id="healthz")
async def healthz() -> Response:
    """The process is alive."""
    return _json({"status": "ok"})


@router.get("/readyz", operation_id="readyz", responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> Response:
    """The database is reachable and migrated to the head revision."""
    head = request.app.state.migration_head
    try:
        async with request.app.state.sessions() as session:
            current = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:  # any driver error means "not ready", never a 500
        log.warning("readiness check failed: %s", type(exc).__name__)
        return _json(
            {"status": "unavailable", "reason": "database unreachable or not migrated"}, 503
        )
    if current != head:
        return _json(
            {"status": "unavailable", "reason": f"migrations behind: at {current}, head is {head}"},
            503,
        )
    limiter = request.app.state.limiter
    limits = "ok"
    if limiter.shared and not await limiter.healthy():
        # Reads keep working without the shared store; say so rather than fail.
        limits = "degraded: the shared rate-limit store is unreachable; limits are not enforced"
    return _json({"status": "ok", "database": "ok", "migration": current, "rate_limits": limits})
