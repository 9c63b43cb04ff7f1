"""Bulk writing of demo articles: executemany on SQLite, COPY on PostgreSQL, in the caller's transaction."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.articles.writer import ensure_refs
from app.demo.corpus import Corpus, Taxonomy
from app.demo.rows import Encoder, Record, RefIds, TableRecords, encoded_batch
from app.models import Article, Author, Category, Tag
from app.stats.aggregates import count_new_articles

BATCH_SIZE = 1_000  # articles per executemany/COPY round: big enough to amortise, small in memory
OnBatch = Callable[[int], None]


@dataclass(slots=True)
class LoadResult:
    written: int = 0
    skipped: int = 0


async def ensure_taxonomy(conn: AsyncConnection, taxonomy: Taxonomy) -> RefIds:
    """Create the missing categories, authors and tags the way the service does (race-safe)."""
    # The session joins the caller's transaction and leaves committing to it.
    async with AsyncSession(bind=conn) as session:
        return RefIds(
            categories=await ensure_refs(session, Category, taxonomy.categories),
            authors=await ensure_refs(session, Author, taxonomy.authors),
            tags=await ensure_refs(session, Tag, taxonomy.tags),
        )


async def existing_ids(conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
    return set(await conn.scalars(select(Article.id).where(Article.id.in_(ids))))


class BatchMaker(Protocol):
    """Builds the records of a batch; `depth` batches may be in the making while one is written."""

    depth: int

    def make(self, indices: list[int]) -> Awaitable[list[TableRecords]]: ...


class InlineMaker:
    """Builds each batch in this process when it is needed (tests, small corpora)."""

    depth = 0

    def __init__(self, corpus: Corpus, encoder: Encoder, ids: RefIds) -> None:
        self.corpus, self.encoder, self.ids = corpus, encoder, ids

    async def make(self, indices: list[int]) -> list[TableRecords]:
        return encoded_batch(self.corpus, self.encoder, self.ids, indices)


class PoolMaker:
    """Builds batches in worker processes, so generation overlaps the database's work.

    Workers return their records pickled, and they are unpickled here between two writes:
    unpickling in the executor's own thread, while the driver thread writes, would make
    the driver wait for the GIL after every row.
    """

    def __init__(self, executor: Executor, build: Callable[[list[int]], bytes], depth: int) -> None:
        self.executor, self.build, self.depth = executor, build, depth

    def make(self, indices: list[int]) -> Awaitable[list[TableRecords]]:
        # Submitted now, so the workers build ahead while earlier batches are written.
        packed = asyncio.get_running_loop().run_in_executor(self.executor, self.build, indices)
        return self._unpack(packed)

    @staticmethod
    async def _unpack(packed: Awaitable[bytes]) -> list[TableRecords]:
        records: list[TableRecords] = pickle.loads(await packed)
        return records


async def write_articles(
    conn: AsyncConnection,
    corpus: Corpus,
    indices: range,
    maker: BatchMaker,
    on_batch: OnBatch | None = None,
) -> LoadResult:
    """Write the corpus articles at these indices in the caller's transaction, skipping existing ones."""
    result = LoadResult()
    written: list[str] = []
    in_flight: deque[tuple[int, Awaitable[list[TableRecords]]]] = deque()
    for batch in _batches(indices):
        wanted = {corpus.article_id(i): i for i in batch}
        # This query also makes SQLAlchemy begin the transaction that the raw writes join.
        present = await existing_ids(conn, list(wanted))
        missing = [i for article_id, i in wanted.items() if article_id not in present]
        written.extend(corpus.article_id(i) for i in missing)
        result.written += len(missing)
        result.skipped += len(present)
        in_flight.append((len(batch), maker.make(missing)))
        while len(in_flight) > maker.depth:
            await _write_next(conn, in_flight, on_batch)
    while in_flight:
        await _write_next(conn, in_flight, on_batch)
    # The statistics' counts, from the rows just written (the bulk path skips write_view).
    await count_new_articles(conn, written)
    return result


def _batches(indices: range) -> Iterator[range]:
    for start in range(indices.start, indices.stop, BATCH_SIZE):
        yield range(start, min(start + BATCH_SIZE, indices.stop))


async def _write_next(
    conn: AsyncConnection,
    in_flight: deque[tuple[int, Awaitable[list[TableRecords]]]],
    on_batch: OnBatch | None,
) -> None:
    size, pending = in_flight.popleft()
    for part in await pending:
        await send(conn, part)
    if on_batch is not None:
        on_batch(size)


class _SqliteDriver(Protocol):
    async def executemany(self, sql: str, parameters: Iterable[Record]) -> object: ...


class _PostgresDriver(Protocol):
    async def copy_records_to_table(
        self, table_name: str, *, records: Iterable[Record], columns: Sequence[str]
    ) -> str: ...


async def send(conn: AsyncConnection, part: TableRecords) -> None:
    """Write records in the connection's open transaction by the fastest safe path."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None, "an open connection has a driver connection"
    if conn.dialect.name == "sqlite":
        sqlite_driver: _SqliteDriver = driver
        marks = ", ".join("?" * len(part.columns))
        sql = f"INSERT INTO {part.table} ({', '.join(part.columns)}) VALUES ({marks})"
        await sqlite_driver.executemany(sql, part.records)
    else:
        postgres_driver: _PostgresDriver = driver
        await postgres_driver.copy_records_to_table(
            part.table, records=part.records, columns=part.columns
        )


async def load_demo(
    conn: AsyncConnection, corpus: Corpus, count: int, on_batch: OnBatch | None = None
) -> LoadResult:
    """The first `count` corpus articles and their taxonomy, built in this process, in the caller's transaction."""
    ids = await ensure_taxonomy(conn, corpus.taxonomy)
    maker = InlineMaker(corpus, Encoder(conn.dialect), ids)
    return await write_articles(conn, corpus, range(count), maker, on_batch)


# FTS5 merges index segments as it goes (automerge, default 4); during a bulk load that
# rewrites the index again and again. Turning it off inside the load's transaction (so a
# crash rolls the setting back too) and merging once at the end is about a quarter faster.
FTS_DEFAULT_AUTOMERGE = 4


@contextlib.asynccontextmanager
async def fts_merging_deferred(conn: AsyncConnection) -> AsyncIterator[None]:
    """Within the caller's transaction on SQLite, write the search index without merging."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = await conn.scalar(text("SELECT v FROM article_search_config WHERE k = 'automerge'"))
    await _fts_command(conn, "automerge", 0)
    yield
    await _fts_command(conn, "automerge", before if before is not None else FTS_DEFAULT_AUTOMERGE)


async def refresh_planner_statistics(conn: AsyncConnection) -> None:
    """ANALYZE after a bulk load on PostgreSQL: with the old statistics the planner scans
    instead of using the indexes (e.g. the stats' range over future `published_at`)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("ANALYZE"))


async def optimize_search_index(conn: AsyncConnection) -> None:
    """Merge the SQLite search index into one segment, the fastest shape for queries."""
    if conn.dialect.name == "sqlite":
        await conn.execute(text("INSERT INTO article_search(article_search) VALUES ('optimize')"))


async def _fts_command(conn: AsyncConnection, command: str, value: object) -> None:
    await conn.execute(
        text("INSERT INTO article_search(article_search, rank) VALUES (:command, :value)"),
        {"command": command, "value": value},
    )
