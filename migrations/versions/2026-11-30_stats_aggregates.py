"""Statistics: maintained article counts (per publication day; per category, author and tag) and read counts.

Revision ID: e73c2a9d5f32
Revises: d62b1f8c4e21
Create Date: 2026-11-30 16:00:00.000000

The counts are backfilled from the existing articles with one INSERT ... SELECT each;
from then on every write keeps them (app/stats/aggregates.py).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "e73c2a9d5f32"
down_revision: str | None = "d62b1f8c4e21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_STATUSES = ("published", "scheduled")

articles = sa.table(
    "articles",
    sa.column("id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("category_id", sa.Integer()),
    sa.column("published_at", sa.DateTime(timezone=True)),
)
article_authors = sa.table(
    "article_authors", sa.column("article_id", sa.String()), sa.column("author_id", sa.Integer())
)
article_tags = sa.table(
    "article_tags", sa.column("article_id", sa.String()), sa.column("tag_id", sa.Integer())
)


def upgrade() -> None:
    op.create_table(
        "stats_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_stats_daily")),
    )
    op.create_table(
        "stats_term_counts",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "term_id", "bucket", name=op.f("pk_stats_term_counts")),
    )
    op.create_table(
        "article_views_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "article_id", name=op.f("pk_article_views_daily")),
    )
    op.create_table(
        "article_views_recent",
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("period", "article_id", name=op.f("pk_article_views_recent")),
    )
    op.create_index(
        "ix_article_views_recent_rank", "article_views_recent", ["period", "count", "article_id"]
    )
    op.create_table(
        "stats_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_stats_state")),
    )
    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("stats_state")
    op.drop_index("ix_article_views_recent_rank", table_name="article_views_recent")
    op.drop_table("article_views_recent")
    op.drop_table("article_views_daily")
    op.drop_table("stats_term_counts")
    op.drop_table("stats_daily")


def backfill(bind: sa.Connection) -> None:
    """Count what is already stored, as app/stats/aggregates.py would have counted it."""
    bucket = sa.case(
        (articles.c.status.in_(LIVE_STATUSES), sa.literal("live")), else_=articles.c.status
    )
    day = _utc_day(bind, articles.c.published_at)
    daily = sa.table("stats_daily", sa.column("day"), sa.column("count"))
    live = sa.and_(articles.c.status.in_(LIVE_STATUSES), articles.c.published_at.is_not(None))
    days = sa.select(day.label("day")).where(live).subquery()
    bind.execute(
        daily.insert().from_select(
            ["day", "count"],
            sa.select(days.c.day, sa.func.count()).group_by(days.c.day),
        )
    )
    terms = sa.table(
        "stats_term_counts",
        sa.column("kind"),
        sa.column("term_id"),
        sa.column("bucket"),
        sa.column("count"),
    )
    columns = ["kind", "term_id", "bucket", "count"]
    for select in _term_selects(bucket):
        bind.execute(terms.insert().from_select(columns, select))


def _term_selects(bucket: Any) -> list[Any]:
    """One SELECT per kind; buckets are grouped in an outer query (a CASE with bound
    parameters cannot be repeated in PostgreSQL's GROUP BY)."""
    sources = (
        ("category", articles, articles.c.category_id),
        ("author", article_authors, article_authors.c.author_id),
        ("tag", article_tags, article_tags.c.tag_id),
    )
    selects = []
    for kind, table, column in sources:
        joined = (
            table
            if table is articles
            else table.join(articles, articles.c.id == table.c.article_id)
        )
        inner = (
            sa.select(column.label("term_id"), bucket.label("bucket"))
            .select_from(joined)
            .subquery()
        )
        selects.append(
            sa.select(sa.literal(kind), inner.c.term_id, inner.c.bucket, sa.func.count()).group_by(
                inner.c.term_id, inner.c.bucket
            )
        )
    return selects


def _utc_day(bind: sa.Connection, column: Any) -> Any:
    """The UTC calendar day of a stored instant (SQLite stores naive UTC text)."""
    if bind.dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)
