"""Named dependencies shared by routers (Annotated aliases keep endpoint signatures short)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import session_scope

READ_METHODS = frozenset({"GET", "HEAD"})
PRIMARY_SCOPES = frozenset({"write", "admin"})  # editors and admins read their own writes
# Keys and webhooks are managed and read back at once (and the worker logs deliveries on
# the primary); they are few and never cached, so they are read where they are written.
PRIMARY_PATHS = ("/v1/keys", "/v1/webhooks")


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(_sessions_for(request)) as session:
        yield session


def _sessions_for(request: Request) -> async_sessionmaker[AsyncSession]:
    """The read replica (when configured) for public and partner reads; else the primary.

    A request that may write, every read by an editor or admin (drafts, the article they
    just saved) and the management of keys and webhooks stay on the primary: the replica
    may lag it by a moment.
    """
    primary: async_sessionmaker[AsyncSession] = request.app.state.sessions
    if request.method not in READ_METHODS or request.scope["path"].startswith(PRIMARY_PATHS):
        return primary
    key = request.scope.get("state", {}).get("api_key")
    scopes: frozenset[str] = getattr(key, "scopes", frozenset())
    if not scopes.isdisjoint(PRIMARY_SCOPES):
        return primary
    replica: async_sessionmaker[AsyncSession] = request.app.state.read_sessions
    return replica


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
    # SQLite has one writer at a time: queue this process's writers here, in order, rather
    # than in SQLite's busy handler, whose growing sleeps make long tails.
    async with (
        request.app.state.write_gate,
        session_scope(request.app.state.write_sessions) as session,
    ):
        yield session


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# "function" scope: the commit happens before the response is sent, never after.
Session = Annotated[AsyncSession, Depends(_session, scope="function")]
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]
AppSettings = Annotated[Settings, Depends(_settings)]
Now = Annotated[dt.datetime, Depends(_now)]
