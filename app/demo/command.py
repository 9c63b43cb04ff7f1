"""`byline demo`: check the schema, then load the corpus in large transactions behind a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import inspect, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.config import Settings
from app.core.db import make_engine
from app.demo.corpus import Corpus
from app.demo.loader import (
    BATCH_SIZE,
    BatchMaker,
    InlineMaker,
    LoadResult,
    OnBatch,
    PoolMaker,
    ensure_taxonomy,
    fts_merging_deferred,
    optimize_search_index,
    refresh_planner_statistics,
    write_articles,
)
from app.demo.rows import Encoder, RefIds, encoded_batch
from app.health import migration_head

CHUNK_ARTICLES = 20_000  # per transaction: few commits, yet a bounded write-ahead log
REQUIRED_TABLES = {"alembic_version", "articles", "article_search", "changes", "revisions"}


class DemoError(Exception):
    """A condition that stops the demo before it writes anything, with a message for the user."""


@dataclass(frozen=True, slots=True)
class DemoSummary:
    requested: int
    written: int
    skipped: int
    seed: int
    seconds: float

    def describe(self) -> str:
        rate = self.written / self.seconds if self.seconds else 0.0
        return (
            f"demo corpus (seed {self.seed}): {self.requested:,} article(s) requested, "
            f"{self.written:,} written, {self.skipped:,} already present; "
            f"{self.seconds:.1f} s ({rate:,.0f} articles/s)"
        )


def run_demo(settings: Settings, count: int, seed: int, console: Console) -> DemoSummary:
    return asyncio.run(_run_demo(settings, count, seed, console))


async def _run_demo(settings: Settings, count: int, seed: int, console: Console) -> DemoSummary:
    engine = make_engine(settings.database_url)
    try:
        await require_migrated(engine)
        started = time.perf_counter()
        corpus = Corpus(seed, settings)
        async with engine.begin() as conn:
            ids = await ensure_taxonomy(conn, corpus.taxonomy)
        with _progress(console) as progress, _batch_maker(engine, corpus, ids, count) as maker:
            task = progress.add_task("writing articles", total=count)
            result = await _load(engine, corpus, count, maker, lambda n: progress.advance(task, n))
        if result.written:
            with console.status("merging the search index"):
                async with engine.begin() as conn:
                    await optimize_search_index(conn)
                    await refresh_planner_statistics(conn)
        elapsed = time.perf_counter() - started
        return DemoSummary(count, result.written, result.skipped, seed, elapsed)
    finally:
        await engine.dispose()


async def require_migrated(engine: AsyncEngine) -> None:
    """Refuse to write into a database that is unreachable, or whose schema is missing or old."""
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            current = None
            if "alembic_version" in tables:
                current = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except (OSError, DBAPIError) as error:
        raise DemoError(f"cannot open the database: {error}") from error
    if not REQUIRED_TABLES <= tables:
        raise DemoError("the database has no Byline tables yet: run `byline migrate` first")
    if current != migration_head():
        raise DemoError(
            f"the database schema is at {current}, not {migration_head()}: run `byline migrate` first"
        )


async def _load(
    engine: AsyncEngine, corpus: Corpus, count: int, maker: BatchMaker, on_batch: OnBatch
) -> LoadResult:
    """Write the corpus chunk by chunk, one transaction per chunk, in one or more lanes."""
    # SQLite has one writer; PostgreSQL computes each search vector in the backend that
    # writes it, so one connection per core spreads that work.
    lanes = 1 if engine.dialect.name == "sqlite" else max(1, min(4, os.cpu_count() or 1))
    chunks = iter(
        [range(s, min(s + CHUNK_ARTICLES, count)) for s in range(0, count, CHUNK_ARTICLES)]
    )
    # A task group: if one lane fails, the others are cancelled before the engine closes.
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(_lane(engine, corpus, chunks, maker, on_batch)) for _ in range(lanes)
        ]
    results = [task.result() for task in tasks]
    return LoadResult(sum(r.written for r in results), sum(r.skipped for r in results))


async def _lane(
    engine: AsyncEngine, corpus: Corpus, chunks: Iterator[range], maker: BatchMaker,
    on_batch: OnBatch,
) -> LoadResult:  # fmt: skip
    """Take chunks from the shared iterator until none are left, one transaction each."""
    total = LoadResult()
    async with engine.connect() as conn, _bulk_pragmas(conn):
        for chunk in chunks:
            async with conn.begin(), fts_merging_deferred(conn):
                done = await write_articles(conn, corpus, chunk, maker, on_batch)
            total.written += done.written
            total.skipped += done.skipped
    return total


class _Cursor(Protocol):
    async def fetchone(self) -> tuple[object, ...] | None: ...


class _PragmaDriver(Protocol):
    async def execute(self, sql: str) -> _Cursor: ...


# SQLite settings for the load only, restored afterwards: no fsync per commit (an OS crash
# could lose the open transaction of demo rows) and a page cache big enough for the
# random-order index inserts.
BULK_PRAGMAS = {"synchronous": "OFF", "cache_size": "-262144"}
# A rollback journal instead of the write-ahead log, which writes every page twice (to the
# log, then to the database at each checkpoint). SQLite allows the switch only while no
# other connection has the database open; if one has, the load keeps the WAL.
BULK_JOURNAL = "truncate"


@contextlib.asynccontextmanager
async def _bulk_pragmas(conn: AsyncConnection) -> AsyncIterator[None]:
    """Apply the bulk-load settings on SQLite for the duration of the load, then restore them."""
    if conn.dialect.name != "sqlite":
        yield
        return
    # Through the driver: SQLAlchemy would open a transaction, where SQLite refuses the change.
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None, "an open connection has a driver connection"
    driver: _PragmaDriver = raw
    before = {name: await _pragma(driver, name) for name in (*BULK_PRAGMAS, "journal_mode")}
    for name, value in BULK_PRAGMAS.items():
        await driver.execute(f"PRAGMA {name}={value}")
    await _try_journal_mode(driver, BULK_JOURNAL)
    try:
        yield
    finally:
        await _try_journal_mode(driver, before.pop("journal_mode"))
        for name, value in before.items():
            await driver.execute(f"PRAGMA {name}={value}")


async def _try_journal_mode(driver: _PragmaDriver, mode: str) -> None:
    timeout = await _pragma(driver, "busy_timeout")
    await driver.execute("PRAGMA busy_timeout=0")  # fail at once if the database is shared
    with contextlib.suppress(sqlite3.OperationalError):
        await driver.execute(f"PRAGMA journal_mode={mode}")
    await driver.execute(f"PRAGMA busy_timeout={timeout}")


async def _pragma(driver: _PragmaDriver, name: str) -> str:
    row = await (await driver.execute(f"PRAGMA {name}")).fetchone()
    assert row is not None, "a PRAGMA read returns a row"
    return str(row[0])


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, transient=False,
    )  # fmt: skip


# ---- building batches in worker processes

_worker_state: tuple[Corpus, Encoder, RefIds] | None = None  # one per worker process


def _start_worker(seed: int, settings: Settings, ids: RefIds) -> None:
    global _worker_state
    # The engine's dialect does not travel between processes; the same class is rebuilt
    # from the URL, so values get the same bind processing (JSON text, UTC timestamps).
    dialect = make_url(settings.async_database_url).get_dialect()()
    _worker_state = (Corpus(seed, settings), Encoder(dialect), ids)


def _build_in_worker(indices: list[int]) -> bytes:
    assert _worker_state is not None, "the pool initializer sets the worker state"
    return pickle.dumps(encoded_batch(*_worker_state, indices), pickle.HIGHEST_PROTOCOL)


@contextlib.contextmanager
def _batch_maker(
    engine: AsyncEngine, corpus: Corpus, ids: RefIds, count: int
) -> Iterator[BatchMaker]:
    """Worker processes for a large corpus (generation then overlaps the writes), else inline."""
    if count <= 2 * BATCH_SIZE:
        yield InlineMaker(corpus, Encoder(engine.dialect), ids)
        return
    workers = max(1, (os.cpu_count() or 2) - 1)
    # spawn, not fork: the parent runs an event loop and a database thread.
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker, initargs=(corpus.seed, corpus.settings, ids),
    )  # fmt: skip
    try:
        yield PoolMaker(pool, _build_in_worker, depth=2 * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
