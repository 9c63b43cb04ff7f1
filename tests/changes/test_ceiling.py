"""The settled ceiling: a reader never passes a seq that may still commit (PostgreSQL).

PostgreSQL hands out a seq when a row is inserted, not when it commits, so a missing seq
below a committed one may be a write still in flight. These tests write change rows with
chosen seqs and log times; on SQLite, where writers commit one after another, every
committed seq is settled and the same rows read straight through.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select

from app.changes import service
from app.changes.service import Reader
from app.models import Change
from tests.changes.conftest import log_top

GRACE = dt.timedelta(seconds=10)
PARTNER = Reader(editor=False, categories=None)


async def db_now(session) -> dt.datetime:
    """The database's clock (PostgreSQL), or this process's (SQLite has no gaps to judge)."""
    if session.get_bind().dialect.name == "postgresql":
        value: dt.datetime = await session.scalar(select(func.clock_timestamp()))
        return value
    return dt.datetime.now(dt.UTC)


async def log(session, seqs: list[int], age: dt.timedelta = dt.timedelta(0)) -> None:
    logged = await db_now(session) - age
    rows = [
        {
            "seq": seq, "event": "updated", "article_id": "art_gap", "revision": 1,
            "at": logged, "category": "science", "shared_in": "science",
            "was_shared_in": "science", "logged_at": logged,
        }
        for seq in seqs
    ]  # fmt: skip
    await session.execute(insert(Change), rows)


async def base(session) -> int:
    return await log_top(session) + 100


async def test_without_gaps_the_ceiling_is_the_newest_seq(session):
    start = await base(session)
    await log(session, [start + 1, start + 2, start + 3])
    assert await service.settled_ceiling(session, start, GRACE) == start + 3
    assert await service.settled_ceiling(session, start + 3, GRACE) == start + 3


async def test_a_young_gap_holds_readers_below_it(session, backend):
    start = await base(session)
    await log(session, [start + 1, start + 3])
    ceiling = await service.settled_ceiling(session, start, GRACE)
    assert ceiling == (start + 1 if backend == "postgresql" else start + 3)
    page = await service.read(session, PARTNER, start, 10, dt.datetime.now(dt.UTC), GRACE)
    seen = [event.entry.seq for event in page.events]
    assert seen == ([start + 1] if backend == "postgresql" else [start + 1, start + 3])
    # The late write commits: now everything reads, in order, and nothing was skipped.
    await log(session, [start + 2])
    page = await service.read(session, PARTNER, start + 1, 10, dt.datetime.now(dt.UTC), GRACE)
    assert [event.entry.seq for event in page.events] == [start + 2, start + 3]


async def test_a_gap_right_after_the_cursor_holds_everything(session, backend):
    start = await base(session)
    await log(session, [start + 2])
    expected = start if backend == "postgresql" else start + 2
    assert await service.settled_ceiling(session, start, GRACE) == expected


async def test_an_old_gap_was_a_rolled_back_insert(session):
    start = await base(session)
    await log(session, [start + 1, start + 3], age=dt.timedelta(minutes=1))
    assert await service.settled_ceiling(session, start, GRACE) == start + 3


async def test_a_young_gap_below_the_searched_window_is_assumed(session, backend):
    # More young changes than the window holds: what lies below it cannot be judged.
    start = await base(session)
    count = service.GAP_WINDOW + 100
    await log(session, list(range(start + 1, start + count + 1)))
    top = start + count
    expected = top - service.GAP_WINDOW if backend == "postgresql" else top
    assert await service.settled_ceiling(session, start, GRACE) == expected
    # Read from inside the window, the same rows are settled.
    assert await service.settled_ceiling(session, top - 10, GRACE) == top


async def test_an_empty_or_passed_log_keeps_the_cursor(session):
    top = await log_top(session)
    assert await service.settled_ceiling(session, top, GRACE) == top
    assert await service.settled_ceiling(session, top + 50, GRACE) == top + 50
