"""Usage accounting: counted in memory on the request path, written to the database in batches."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter

from sqlalchemy import Executable, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import adding_upsert, session_scope, table_of
from app.core.periodic import every
from app.core.routing import RouteTemplates, path_template
from app.models import UsageDaily

log = logging.getLogger("byline.usage")
UsageKey = tuple[dt.date, str, str, int]


class UsageRecorder:
    """Counts requests per (day, key, endpoint, status); `flush` adds them to the table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.pending: Counter[UsageKey] = Counter()
        self._day_checked = 0.0
        self._day = dt.date.min

    def record(self, key_id: str, endpoint: str, status: int) -> None:
        self.pending[(self._today(), key_id, endpoint, status)] += 1

    def _today(self) -> dt.date:
        """Today's UTC date, looked up at most once a second (this runs on every request)."""
        now = time.monotonic()
        if now - self._day_checked > 1.0:
            self._day_checked, self._day = now, dt.datetime.now(dt.UTC).date()
        return self._day

    async def flush(self) -> None:
        batch, self.pending = self.pending, Counter()
        if not batch:
            return
        try:
            async with session_scope(self.sessions) as session:
                await session.execute(_upsert(session), [_row(key, n) for key, n in batch.items()])
        except Exception:
            self.pending.update(batch)  # keep the counts for the next try
            raise

    async def run(self, interval: float) -> None:
        await every(interval, self.flush)

    async def today(self, session: AsyncSession, key_id: str) -> int:
        """Requests made today with this key: what is stored plus what is not flushed yet."""
        day = dt.datetime.now(dt.UTC).date()
        stored = await session.scalar(
            select(func.coalesce(func.sum(UsageDaily.count), 0)).where(
                UsageDaily.day == day, UsageDaily.key_id == key_id
            )
        )
        unflushed = sum(n for (d, k, _, _), n in self.pending.items() if d == day and k == key_id)
        return int(stored or 0) + unflushed


def _row(key: UsageKey, count: int) -> dict[str, object]:
    day, key_id, endpoint, status = key
    return {"day": day, "key_id": key_id, "endpoint": endpoint, "status": status, "count": count}


def _upsert(session: AsyncSession) -> Executable:
    table = table_of(UsageDaily)
    return adding_upsert(
        session.get_bind().dialect.name, table, ["day", "key_id", "endpoint", "status"]
    )


class UsageMiddleware:
    """Record every /v1 response against its key and route template."""

    def __init__(
        self, app: ASGIApp, recorder: UsageRecorder, templates: RouteTemplates | None = None
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            key = scope.get("state", {}).get("api_key")
            self.recorder.record(key.id if key else "", self._endpoint(scope), status)

    def _endpoint(self, scope: Scope) -> str:
        path_format = path_template(scope["route"]) if "route" in scope else None
        if path_format is not None:
            return path_format
        if scope["path"].startswith("/v1/articles/") and scope["path"].count("/") == 3:
            return "/v1/articles/{key}"  # answered from the read cache, before routing
        matched = self.templates.of(scope) if self.templates is not None else None
        return matched or "unmatched"
