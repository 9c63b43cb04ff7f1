"""An article's parts are stored exactly as its view says, on either database (on
PostgreSQL by one statement of unnested arrays, on SQLite table by table)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select

from app.articles.parts import PARTS, part_rows, write_parts
from app.articles.readmodel import ArticleView, CorrectionView, SectionView
from app.core.db import table_of
from app.models import Author, Tag
from tests.conftest import add_article

HOSTILE = 'It\'s "quoted", <b>bold</b>, naïve — 東京 \\ back\\slash'


async def stored_rows(session, article_id: str) -> dict[type, list[dict[str, Any]]]:
    found = {}
    for model in PARTS:
        table = table_of(model)
        columns = [c for c in table.c if c.name != "id"]  # a section's own id is the database's
        rows = await session.execute(
            select(*columns).where(table.c.article_id == article_id).order_by(table.c.position)
        )
        found[model] = [dict(row._mapping) for row in rows]
    return found


async def ids_of(session, view: ArticleView) -> tuple[dict[str, int], dict[str, int]]:
    authors = dict((await session.execute(select(Author.slug, Author.id))).all())
    tags = dict((await session.execute(select(Tag.slug, Tag.id))).all())
    return authors, tags


async def test_every_part_is_stored_in_order(session, settings):
    view = await add_article(
        session, settings,
        authors=["Ada Writer", "Ben Reporter", "Cy Columnist"], tags=["Water", "Alps"],
        takeaways=[HOSTILE, "Second.", "Third."],
        sections=[{"heading": None, "paragraphs": ["Opening.", HOSTILE]},
                  {"heading": HOSTILE, "paragraphs": ["Under a hostile heading."]},
                  {"heading": "Last", "paragraphs": ["One.", "Two.", "Three."]}],
    )  # fmt: skip
    authors, tags = await ids_of(session, view)
    assert await stored_rows(session, view.id) == part_rows(view, authors, tags)


async def test_replacing_parts_leaves_only_the_new_ones(session, settings):
    view = await add_article(
        session, settings, tags=["Water", "Alps", "Glaciers"],
        takeaways=["One.", "Two.", "Three."],
    )  # fmt: skip
    authors, tags = await ids_of(session, view)
    at = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    newer = dataclasses.replace(
        view,
        tags=view.tags[1:2],
        takeaways=("Only one.",),
        sections=(SectionView("Heading", ("New text.",)),),
        corrections=(CorrectionView(at, "A fix."), CorrectionView(at, HOSTILE)),
    )
    await write_parts(session, newer, authors, tags, replacing=True)
    stored = await stored_rows(session, view.id)
    assert stored == part_rows(newer, authors, tags)
    # and nothing at all when the view has no parts left of a kind
    bare = dataclasses.replace(newer, tags=(), takeaways=(), corrections=())
    await write_parts(session, bare, authors, tags, replacing=True)
    stored = await stored_rows(session, view.id)
    assert stored == part_rows(bare, authors, tags)
    assert [len(stored[m]) for m in PARTS] == [1, 0, 1, 0, 0]
