"""An article's parts (byline, tags, sections, takeaways, corrections), written per revision.

On PostgreSQL all parts go in with one statement (data-modifying CTEs over `unnest`ed
arrays) and an update's old parts go with one more, instead of a statement per table:
each statement is a round trip and ~0.3 ms of SQLAlchemy and driver work, a good part of
a create's cost (docs/PERFORMANCE.md). The SQL text is the same whatever the number of
rows, so it is compiled and prepared once per connection. SQLite, in process, keeps the
plain per-table inserts.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import DateTime, Integer, Text, bindparam, delete, insert, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.articles.readmodel import ArticleView
from app.core.db import Base, table_of
from app.models import ArticleAuthor, ArticleTag, Correction, Section, Takeaway

PARTS: tuple[type[Base], ...] = (ArticleAuthor, ArticleTag, Section, Takeaway, Correction)
_TABLES = {model: table_of(model) for model in PARTS}

_ORDINAL = "WITH ORDINALITY AS u({columns}, ord)"
_INSERT_ALL = text(
    f"""
    WITH authors AS (
        INSERT INTO article_authors (article_id, position, author_id)
        SELECT :article_id, u.ord - 1, u.id
        FROM unnest(:author_ids) {_ORDINAL.format(columns="id")}
    ), tags AS (
        INSERT INTO article_tags (article_id, position, tag_id)
        SELECT :article_id, u.ord - 1, u.id
        FROM unnest(:tag_ids) {_ORDINAL.format(columns="id")}
    ), sections AS (
        INSERT INTO sections (article_id, position, heading, paragraphs)
        SELECT :article_id, u.ord - 1, u.heading, CAST(u.paragraphs AS JSONB)
        FROM unnest(:headings, :paragraphs) {_ORDINAL.format(columns="heading, paragraphs")}
    ), takeaways AS (
        INSERT INTO takeaways (article_id, position, text)
        SELECT :article_id, u.ord - 1, u.text
        FROM unnest(:takeaways) {_ORDINAL.format(columns="text")}
    )
    INSERT INTO corrections (article_id, position, published_at, text)
    SELECT :article_id, u.ord - 1, u.published_at, u.text
    FROM unnest(:correction_times, :correction_texts)
        {_ORDINAL.format(columns="published_at, text")}
    """
).bindparams(
    bindparam("author_ids", type_=ARRAY(Integer)),
    bindparam("tag_ids", type_=ARRAY(Integer)),
    bindparam("headings", type_=ARRAY(Text)),
    bindparam("paragraphs", type_=ARRAY(Text)),
    bindparam("takeaways", type_=ARRAY(Text)),
    bindparam("correction_times", type_=ARRAY(DateTime(timezone=True))),
    bindparam("correction_texts", type_=ARRAY(Text)),
)
_DELETE_ALL = text(
    """
    WITH authors AS (DELETE FROM article_authors WHERE article_id = :article_id),
         tags AS (DELETE FROM article_tags WHERE article_id = :article_id),
         sections AS (DELETE FROM sections WHERE article_id = :article_id),
         takeaways AS (DELETE FROM takeaways WHERE article_id = :article_id)
    DELETE FROM corrections WHERE article_id = :article_id
    """
)


def part_rows(
    view: ArticleView, author_ids: dict[str, int], tag_ids: dict[str, int]
) -> dict[type[Base], list[dict[str, Any]]]:
    """The rows of an article's parts, keyed by model."""
    return {
        ArticleAuthor: [
            {"article_id": view.id, "position": i, "author_id": author_ids[a.slug]}
            for i, a in enumerate(view.authors)
        ],
        ArticleTag: [
            {"article_id": view.id, "position": i, "tag_id": tag_ids[t.slug]}
            for i, t in enumerate(view.tags)
        ],
        Section: [
            {
                "article_id": view.id,
                "position": i,
                "heading": s.heading,
                "paragraphs": list(s.paragraphs),
            }
            for i, s in enumerate(view.sections)
        ],  # fmt: skip
        Takeaway: [
            {"article_id": view.id, "position": i, "text": text}
            for i, text in enumerate(view.takeaways)
        ],
        Correction: [
            {"article_id": view.id, "position": i, "published_at": c.published_at, "text": c.text}
            for i, c in enumerate(view.corrections)
        ],  # fmt: skip
    }


async def write_parts(
    session: AsyncSession, view: ArticleView, author_ids: dict[str, int],
    tag_ids: dict[str, int], *, replacing: bool,
) -> None:  # fmt: skip
    """Store the article's parts; `replacing` drops those of its previous revision first."""
    if session.get_bind().dialect.name == "postgresql":
        if replacing:
            await session.execute(_DELETE_ALL, {"article_id": view.id})
        await session.execute(_INSERT_ALL, _arrays(view, author_ids, tag_ids))
        return
    if replacing:
        for table in _TABLES.values():
            await session.execute(delete(table).where(table.c.article_id == view.id))
    for model, rows in part_rows(view, author_ids, tag_ids).items():
        if rows:
            await session.execute(insert(_TABLES[model]), rows)


def _arrays(
    view: ArticleView, author_ids: dict[str, int], tag_ids: dict[str, int]
) -> dict[str, Any]:
    return {
        "article_id": view.id,
        "author_ids": [author_ids[a.slug] for a in view.authors],
        "tag_ids": [tag_ids[t.slug] for t in view.tags],
        "headings": [s.heading for s in view.sections],
        # JSONB from JSON text: the same value the ORM's JSON type would store.
        "paragraphs": [json.dumps(list(s.paragraphs)) for s in view.sections],
        "takeaways": list(view.takeaways),
        "correction_times": [c.published_at for c in view.corrections],
        "correction_texts": [c.text for c in view.corrections],
    }
