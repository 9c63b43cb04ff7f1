"""PostgreSQL: writers of one article each update the counts side by side; an NDJSON import
(several articles in one transaction) updates them alone, so nobody deadlocks."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from app.stats import aggregates
from app.stats.aggregates import Delta
from tests.conftest import PG_URL

# Advisory locks are PostgreSQL's; SQLite lets one writer at a time in anyway.
pytestmark = pytest.mark.parametrize("backend", ["postgresql"] if PG_URL else [], indirect=True)


def one_tag(term_id: int) -> Delta:
    return Delta(Counter(), Counter({("tag", term_id, "live"): 1}))


async def test_single_writers_share_the_count_lock_and_an_import_takes_it_alone(engine):
    async with engine.connect() as first, engine.connect() as second, engine.connect() as batch:
        await first.begin()
        await second.begin()
        await aggregates.apply(first, one_tag(990_001))  # uncommitted: holds what it takes
        # Another single writer does not wait for the first (it did, behind one global lock).
        await asyncio.wait_for(aggregates.apply(second, one_tag(990_002)), timeout=5)

        await batch.begin()
        with aggregates.batch(batch):
            importing = asyncio.create_task(aggregates.apply(batch, one_tag(990_003)))
            await asyncio.sleep(0.5)
            assert not importing.done()  # waits for both open writers
            await first.rollback()
            await asyncio.sleep(0.2)
            assert not importing.done()
            await second.rollback()
            await asyncio.wait_for(importing, timeout=5)
            # ... and while it is open, a single writer waits for the import.
            async with engine.connect() as late:
                await late.begin()
                writing = asyncio.create_task(aggregates.apply(late, one_tag(990_004)))
                await asyncio.sleep(0.5)
                assert not writing.done()
                await batch.rollback()
                await asyncio.wait_for(writing, timeout=5)
                await late.rollback()
        assert aggregates.BATCH not in batch.info
