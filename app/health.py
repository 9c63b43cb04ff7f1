"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import functools
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


@functools.cache
def migration_head() -> str | None:
    """The newest revision among the migrations shipped with this code.

    Read once per process: finding it compiles every migration file (~15 ms), and the
    files do not change under a running process, while apps are made more than once in
    one (every test makes its own, `byline serve --workers` one per worker).
    """
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
    """The database (and the read replica, if any) is reachable and migrated to the head."""
    state = request.app.state
    head = state.migration_head
    current = await _revision(state.sessions)
    if isinstance(current, Problem):
        return _not_ready(current.reason("database", head))
    if current != head:
        return _not_ready(f"migrations behind: at {current}, head is {head} (run `byline migrate`)")
    body = {"status": "ok", "database": "ok", "migration": current}
    if state.read_engine is not None:
        # Public reads use the replica: without it this server can answer only editors.
        copied = await _revision(state.read_sessions)
        if isinstance(copied, Problem):
            return _not_ready(copied.reason("read replica", head))
        if copied != head:
            return _not_ready(
                f"read replica behind: at {copied}, head is {head} (replication lag, or a "
                "replica of another database)"
            )
        body["replica"] = "ok"
    limiter = state.limiter
    body["rate_limits"] = "ok"
    if limiter.shared and not await limiter.healthy():
        # Reads keep working without the shared store; say so rather than fail.
        body["rate_limits"] = (
            "degraded: the shared rate-limit store is unreachable; limits are not enforced"
        )
    return _json(body)


class Problem:
    """Why a database cannot serve: unreachable (with the error's name) or never migrated."""

    def __init__(self, unreachable: str | None) -> None:
        self.unreachable = unreachable

    def reason(self, what: str, head: str | None) -> str:
        if self.unreachable is not None:
            return f"{what} unreachable: {self.unreachable}"
        return f"{what} not migrated: no schema yet (run `byline migrate`; head is {head})"


async def _revision(sessions: async_sessionmaker[AsyncSession]) -> str | Problem:
    try:
        found = await asyncio.wait_for(_database_revision(sessions), READY_TIMEOUT)
    except Unreachable as exc:
        return Problem(str(exc))
    except TimeoutError:
        return Problem(f"no answer within {READY_TIMEOUT:g} s")
    return Problem(None) if found is None else found


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
