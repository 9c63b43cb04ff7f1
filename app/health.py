"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
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
        current = await asyncio.wait_for(
            _database_revision(request.app.state.sessions), READY_TIMEOUT
        )
    except Unreachable as exc:
        return _not_ready(f"database unreachable: {exc}")
    except TimeoutError:
        return _not_ready(f"database unreachable: no answer within {READY_TIMEOUT:g} s")
    if current is None:
        return _not_ready(
            f"database not migrated: no schema yet (run `byline migrate`; head is {head})"
        )
    if current != head:
        return _not_ready(f"migrations behind: at {current}, head is {head} (run `byline migrate`)")
    limiter = request.app.state.limiter
    limits = "ok"
    if limiter.shared and not await limiter.healthy():
        # Reads keep working without the shared store; say so rather than fail.
        limits = "degraded: the shared rate-limit store is unreachable; limits are not enforced"
    return _json({"status": "ok", "database": "ok", "migration": current, "rate_limits": limits})


READY_TIMEOUT = 2.0  # seconds; a probe that hangs is as bad as one that fails


class Unreachable(Exception):
    """The database did not answer a trivial query."""


async def _database_revision(sessions: async_sessionmaker[AsyncSession]) -> str | None:
    """The alembic revision the database is at; None if it has no alembic_version table.

    Each check gets a fresh session, and the engine's pool_pre_ping replaces connections
    that died with the server, so the probe recovers by itself when the database returns.
    """
    try:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready", never a 500
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        raise Unreachable(type(exc).__name__) from exc
    try:
        async with sessions() as session:
            revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:  # the table is missing: the schema was never migrated
        log.warning("readiness: no alembic_version table: %s", type(exc).__name__)
        return None
    return str(revision) if revision is not None else None


def _not_ready(reason: str) -> Response:
    return _json({"status": "unavailable", "reason": reason}, 503)
