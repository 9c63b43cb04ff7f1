"""Named dependencies shared by routers (Annotated aliases keep endpoint signatures short)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import session_scope


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.sessions) as session:
        yield session


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
