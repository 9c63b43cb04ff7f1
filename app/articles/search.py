"""Full-text search behind one interface: SQLite FTS5 or a PostgreSQL tsvector with GIN."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Double,
    Select,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import AnySelect

MAX_TERMS = 32
# Noncharacters never occur in real text, so they can mark matches in a snippet that is
# escaped afterwards; only then are they turned into <mark> elements.
MARK_START, MARK_END = "\ufdd0", "\ufdd1"
# PostgreSQL's ts_headline drops anything that parses as an XML tag, so angle brackets
# are swapped for noncharacters before it runs and restored before escaping.
LT_GUARD, GT_GUARD = "\ufdd2", "\ufdd3"

search_table = table(
    "article_search",
    column("article_id"),
    column("headline"),
    column("dek"),
    column("takeaways"),
    column("body"),
)


@dataclass(frozen=True, slots=True)
class SearchDocument:
    article_id: str
    headline: str
    dek: str
    takeaways: str
    body: str


def terms_of(query: str) -> list[str]:
    """The words of a user's query; everything else (operators, quotes) is dropped."""
    return re.findall(r"\w+", query.lower())[:MAX_TERMS]


def fts_rowid(article_id: str) -> int:
    """A stable 63-bit FTS5 rowid for an article id, so updates seek instead of scan."""
    return int.from_bytes(hashlib.blake2b(article_id.encode(), digest_size=8).digest()) >> 1


def mark_snippet(raw: str) -> str:
    """Escape a snippet's text and turn the match sentinels into <mark> elements."""
    text = raw.replace("\n", " ").replace(LT_GUARD, "<").replace(GT_GUARD, ">")
    # Quotes too: a frontend may put a snippet in an attribute (title="…") as well as in text.
    escaped = html.escape(text)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


class SearchIndex:
    """The dialect-specific parts of search; everything else is shared."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    async def put(
        self, session: AsyncSession, doc: SearchDocument, *, replacing: bool = True
    ) -> None:
        if replacing:
            await self.remove(session, doc.article_id)
        values = {
            "article_id": doc.article_id, "headline": doc.headline, "dek": doc.dek,
            "takeaways": doc.takeaways, "body": doc.body,
        }  # fmt: skip
        if self.sqlite:
            await session.execute(
                text(
                    "INSERT INTO article_search (rowid, article_id, headline, dek, takeaways, body)"
                    " VALUES (:rowid, :article_id, :headline, :dek, :takeaways, :body)"
                ),
                {"rowid": fts_rowid(doc.article_id), **values},
            )
        else:
            await session.execute(search_table.insert().values(**values))

    async def remove(self, session: AsyncSession, article_id: str) -> None:
        if self.sqlite:
            stmt = text("DELETE FROM article_search WHERE rowid = :rowid")
            await session.execute(stmt, {"rowid": fts_rowid(article_id)})
        else:
            await session.execute(
                search_table.delete().where(search_table.c.article_id == article_id)
            )

    def matches(self, terms: Sequence[str]) -> AnySelect:
        """(article_id, score, tiebreak) of articles matching every term; lower scores rank first.

        `tiebreak` orders equal scores: the FTS5 rowid on SQLite (sorting by it needs no
        read of the stored article id), the article id on PostgreSQL.
        """
        if self.sqlite:
            match = " ".join(f'"{term}"' for term in terms)
            score = func.bm25(literal_column("article_search"), 0.0, 10.0, 4.0, 4.0, 1.0)
            rowid: ColumnElement[int] = literal_column("article_search.rowid")
            return select(
                search_table.c.article_id, score.label("score"), rowid.label("tiebreak")
            ).where(literal_column("article_search").op("MATCH")(bindparam("fts_q", match)))
        query = func.plainto_tsquery("english", bindparam("fts_q", " ".join(terms)))
        document: ColumnElement[Any] = literal_column("article_search.document")
        rank = (-func.ts_rank_cd(document, query, 32)).cast(Double)
        article_id = search_table.c.article_id
        return select(article_id, rank.label("score"), article_id.label("tiebreak")).where(
            document.op("@@")(query)
        )

    @property
    def scores_drift(self) -> bool:
        """Whether a hit's score moves when other articles are written.

        FTS5's bm25 weighs a word by how rare it is in the whole table and a match by the
        table's average length; PostgreSQL's ts_rank_cd looks at the one document only.
        """
        return self.sqlite

    def hit(self, terms: Sequence[str], tiebreak: Any) -> AnySelect:
        """`matches` narrowed to the one hit with this tiebreak (a cursor's last hit)."""
        stmt = self.matches(terms)
        if self.sqlite:
            return stmt.where(literal_column("article_search.rowid") == bindparam("hit", tiebreak))
        return stmt.where(search_table.c.article_id == bindparam("hit", tiebreak))

    def best(self, terms: Sequence[str], after: Sequence[Any] | None, top: int) -> AnySelect:
        """The `top` best matches after a (score, tiebreak) position, as `matches` gives them.

        Ranking then sorting only scores and tiebreaks keeps a common word cheap: the
        article id is read for the few rows kept, not for every match.
        """
        ranked = self.matches(terms)
        if self.sqlite:
            columns = ranked.selected_columns
            ranked = ranked.with_only_columns(columns.score, columns.tiebreak).select_from(
                search_table
            )
        inner = ranked.subquery("ranked")
        stmt = select(inner.c.score, inner.c.tiebreak)
        if after:
            stmt = stmt.where(tuple_(inner.c.score, inner.c.tiebreak) > tuple_(*after))
        kept = stmt.order_by(inner.c.score, inner.c.tiebreak).limit(top).subquery("kept")
        if self.sqlite:
            rowid: ColumnElement[int] = literal_column("article_search.rowid")
            return select(search_table.c.article_id, kept.c.score, kept.c.tiebreak).join_from(
                kept, search_table, rowid == kept.c.tiebreak
            )
        return select(kept.c.tiebreak.label("article_id"), kept.c.score, kept.c.tiebreak)

    async def highlights(
        self, session: AsyncSession, terms: Sequence[str], ids: Sequence[str]
    ) -> dict[str, str]:
        """A short snippet per article with the matched terms marked."""
        if not ids or not terms:
            return {}
        if self.sqlite:
            snippet = func.snippet(
                literal_column("article_search"), -1, MARK_START, MARK_END, "…", 24
            )
            base = self.matches(terms).with_only_columns(search_table.c.article_id, snippet)
            stmt = base.where(
                literal_column("article_search.rowid").in_([fts_rowid(i) for i in ids])
            )
        else:
            stmt = self._pg_headlines(terms, ids)
        rows = await session.execute(stmt)
        return {article_id: mark_snippet(raw or "") for article_id, raw in rows}

    def _pg_headlines(self, terms: Sequence[str], ids: Sequence[str]) -> Select[str, str]:
        query = func.plainto_tsquery("english", bindparam("fts_q", " ".join(terms)))
        whole = func.concat_ws(
            " … ", search_table.c.headline, search_table.c.dek,
            search_table.c.takeaways, search_table.c.body,
        )  # fmt: skip
        options = (
            f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=30, MinWords=12, MaxFragments=1"
        )
        guarded = func.replace(func.replace(whole, "<", LT_GUARD), ">", GT_GUARD)
        headline = func.ts_headline("english", guarded, query, options)
        return select(search_table.c.article_id, headline).where(search_table.c.article_id.in_(ids))
