"""The rows of demo articles, derived by the service's own builders and encoded for the driver."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from app.articles.parts import PARTS, part_rows
from app.articles.readmodel import ArticleView, snapshot_face
from app.articles.search import fts_rowid
from app.articles.writer import article_row, search_document
from app.demo.corpus import Corpus
from app.models import Base, ChangeEvent

Row = dict[str, Any]
Record = tuple[Any, ...]
Processor = Callable[[Any], Any] | None
SEARCH_TABLE = "article_search"  # kept out of the ORM metadata (see the migration)
# Parents before children, so foreign keys hold at every statement.
TABLES = (
    "articles", "article_authors", "article_tags", "sections", "takeaways",
    "revisions", "changes", SEARCH_TABLE,
)  # fmt: skip


_TABLE_NAMES: dict[type, str] = {model: model.__tablename__ for model in PARTS}


@dataclass(frozen=True, slots=True)
class RefIds:
    """Database ids of the corpus's categories, authors and tags, by slug."""

    categories: dict[str, int]
    authors: dict[str, int]
    tags: dict[str, int]


@dataclass(frozen=True, slots=True)
class TableRecords:
    table: str
    columns: tuple[str, ...]
    records: list[Record]


def rows_of(views: Iterable[ArticleView], ids: RefIds, sqlite: bool) -> dict[str, list[Row]]:
    """Every row the service writes for these new, published articles, by table."""
    tables: dict[str, list[Row]] = {name: [] for name in TABLES}
    for view in views:
        tables["articles"].append(article_row(view, ids.categories[view.category.slug]))
        for model, rows in part_rows(view, ids.authors, ids.tags).items():
            if rows:  # demo articles have no corrections
                tables[_TABLE_NAMES[model]].extend(rows)
        tables["revisions"].append(revision_row(view))
        tables["changes"].append(change_row(view))
        tables[SEARCH_TABLE].append(search_row(view, sqlite))
    return tables


def revision_row(view: ArticleView) -> Row:
    # The row writer.record_revision writes.
    return {
        "article_id": view.id,
        "number": view.revision,
        "created_at": view.updated_at,
        "snapshot": snapshot_face(view),
    }


def change_row(view: ArticleView) -> Row:
    # The row writer.record_revision writes for a newly published article.
    return {
        "event": ChangeEvent.PUBLISHED.value,
        "article_id": view.id,
        "revision": view.revision,
        "at": view.updated_at,
    }


def search_row(view: ArticleView, sqlite: bool) -> Row:
    # As SearchIndex.put: on SQLite the FTS5 rowid is derived from the id so updates can
    # seek; on PostgreSQL the tsvector column is generated and must not be written.
    doc = search_document(view)
    row: Row = {"rowid": fts_rowid(doc.article_id)} if sqlite else {}
    row.update(
        article_id=doc.article_id, headline=doc.headline, dek=doc.dek,
        takeaways=doc.takeaways, body=doc.body,
    )  # fmt: skip
    return row


class Encoder:
    """Turns row dicts into driver-ready tuples with the bind processing SQLAlchemy would apply."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._processors: dict[tuple[str, tuple[str, ...]], tuple[Processor, ...]] = {}

    def encode(self, table: str, rows: Sequence[Row]) -> TableRecords:
        columns = tuple(rows[0])
        processed = [
            (i, p) for i, p in enumerate(self._processors_for(table, columns)) if p is not None
        ]
        records = []
        for row in rows:
            values = list(row.values())
            for i, process in processed:
                values[i] = process(values[i])
            records.append(tuple(values))
        return TableRecords(table, columns, records)

    def _processors_for(self, table: str, columns: tuple[str, ...]) -> tuple[Processor, ...]:
        key = (table, columns)
        if key not in self._processors:
            found = Base.metadata.tables.get(table)
            self._processors[key] = tuple(
                None if found is None else self._processor(found, column) for column in columns
            )
        return self._processors[key]

    def _processor(self, table: Table, column: str) -> Processor:
        type_ = table.c[column].type
        processor: Processor = type_.dialect_impl(self.dialect).bind_processor(self.dialect)
        return processor


def encoded_batch(
    corpus: Corpus, encoder: Encoder, ids: RefIds, indices: Sequence[int]
) -> list[TableRecords]:
    """The driver-ready records of the corpus articles at these indices, in insert order."""
    views = (corpus.article(i) for i in indices)
    tables = rows_of(views, ids, encoder.dialect.name == "sqlite")
    return [encoder.encode(table, rows) for table, rows in tables.items() if rows]
