"""Long-polling the change feed without a thread or a query per waiting client.

One watcher task per process runs only while someone waits. Every INTERVAL it asks the
database for the settled ceiling (one indexed max() when nothing happened), reads the
new changes once into an in-memory tail, and wakes every waiter; each waiter then picks
its own events out of the tail. A waiter costs an asyncio task and a few objects, and a
burst of new changes costs one query however many clients wait.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.changes import service
from app.changes.service import Entry, Reader, Scan

log = logging.getLogger("byline.changes")

INTERVAL = 0.2  # seconds between looks at the log while someone waits
TAIL = 2_000  # changes kept in memory for waiters to pick from


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ChangeNotifier:
    """The change feed of one process: reads, waits, and the shared tail of the log."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        interval: float = INTERVAL,
        tail: int = TAIL,
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self.tail = tail
        self.grace = service.GAP_GRACE
        self.ceiling: int | None = None  # settled ceiling of the last look; None: not watching
        self._floor = 0  # the tail holds every change in (floor, ceiling]
        self._entries: list[Entry] = []
        self._changed = asyncio.Event()
        self._waiters = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return self._waiters

    @property
    def watching(self) -> bool:
        return self._task is not None

    async def follow(self, reader: Reader, after: int, limit: int, wait: float) -> Scan:
        """The reader's events after seq `after`; with `wait`, hold until some come or time is up.

        An empty result has read_to == after: nothing new, and the cursor stays.
        """
        found = await self._from_database(reader, after, limit)
        if found.events or wait <= 0:
            return found
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        seen = found.read_to
        while (left := deadline - loop.time()) > 0 and await self._wait_past(seen, left):
            found = self._from_tail(reader, seen, limit) or await self._from_database(
                reader, seen, limit
            )
            if found.events:
                return found
            if found.read_to <= seen:  # no progress (a conservative ceiling): do not spin
                await asyncio.sleep(self.interval)
            seen = max(seen, found.read_to)
        return Scan([], after)

    async def _from_database(self, reader: Reader, after: int, limit: int) -> Scan:
        async with self.sessions() as session:
            return await service.read(session, reader, after, limit, _now(), self.grace)

    def _from_tail(self, reader: Reader, after: int, limit: int) -> Scan | None:
        if self.ceiling is None or after < self._floor:
            return None  # the tail does not reach back that far
        start = bisect.bisect_right(self._entries, after, key=lambda entry: entry.seq)
        return service.scan(self._entries[start:], reader, limit, self.ceiling)

    async def _wait_past(self, seq: int, timeout: float) -> bool:
        """Wait until the settled ceiling passes `seq`; False if the time ran out first."""
        self._waiters += 1
        if self._task is None:
            self._task = asyncio.create_task(self._watch())
        try:
            async with asyncio.timeout(timeout):
                while self.ceiling is None or self.ceiling <= seq:
                    await self._changed.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters -= 1

    async def _watch(self) -> None:
        try:
            while self._waiters:
                try:
                    await self._look()
                except Exception:  # the database may be away for a moment; keep watching
                    log.warning("change-log read failed; retrying", exc_info=True)
                await asyncio.sleep(self.interval)
        finally:
            # Nobody waits: forget the tail, which nothing keeps fresh from now on.
            self.ceiling, self._floor, self._entries, self._task = None, 0, [], None

    async def _look(self) -> None:
        now = _now()
        async with self.sessions() as session:
            if self.ceiling is None:
                self.ceiling = self._floor = await service.settled_ceiling(session, 0, self.grace)
                self._wake()
                return
            ceiling = await service.settled_ceiling(session, self.ceiling, self.grace)
            if ceiling <= self.ceiling:
                return
            if ceiling - self.ceiling > self.tail:  # a flood: waiters read the database
                self._entries, self._floor = [], ceiling
            else:
                self._entries.extend(await service.log_entries(session, self.ceiling, ceiling, now))
        self.ceiling = ceiling
        self._trim()
        self._wake()

    def _trim(self) -> None:
        if len(self._entries) > 2 * self.tail:
            dropped = len(self._entries) - self.tail
            self._floor = self._entries[dropped - 1].seq
            del self._entries[:dropped]

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def cursor(self) -> int:
        """The feed's position now: every change up to it is in the database for good."""
        async with self.sessions() as session:
            return await service.settled_ceiling(session, 0, self.grace)

    async def close(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
