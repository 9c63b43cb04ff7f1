"""Articles, their parts, revisions, the change log and the full-text index.

Revision ID: dcd4229c3b9f
Revises:
Create Date: 2026-11-30 05:39:24.751920
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "dcd4229c3b9f"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "authors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authors")),
        sa.UniqueConstraint("slug", name=op.f("uq_authors_slug")),
    )
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
    )
    op.create_table(
        "changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "event IN ('published', 'updated', 'unpublished', 'retracted', 'deleted', 'corrected', 'created')",
            name=op.f("ck_changes_event"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_changes")),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_article_id", ["article_id"], unique=False)

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("slug", name=op.f("uq_tags_slug")),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("headline", sa.String(length=300), nullable=False),
        sa.Column("dek", sa.Text(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_offset", sa.Integer(), nullable=True),
        sa.Column("embargo_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("reading_time_minutes", sa.Integer(), nullable=False),
        sa.Column("copyright_holder", sa.String(length=300), nullable=False),
        sa.Column("usage_terms", sa.Text(), nullable=False),
        sa.Column("syndication", sa.Boolean(), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tombstone_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'published', 'retracted', 'deleted')",
            name=op.f("ck_articles_status"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name=op.f("fk_articles_category_id_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_articles_slug")),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_category_published", ["category_id", "published_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_articles_published_at_id", ["published_at", "id", "status"], unique=False
        )
        batch_op.create_index("ix_articles_updated_at_id", ["updated_at", "id"], unique=False)

    op.create_table(
        "article_authors",
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_authors_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["authors.id"], name=op.f("fk_article_authors_author_id_authors")
        ),
        sa.PrimaryKeyConstraint("article_id", "position", name=op.f("pk_article_authors")),
    )
    with op.batch_alter_table("article_authors", schema=None) as batch_op:
        batch_op.create_index(
            "ix_article_authors_author", ["author_id", "article_id"], unique=False
        )

    op.create_table(
        "article_tags",
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_tags_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_article_tags_tag_id_tags")),
        sa.PrimaryKeyConstraint("article_id", "tag_id", name=op.f("pk_article_tags")),
    )
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.create_index("ix_article_tags_tag", ["tag_id", "article_id"], unique=False)

    op.create_table(
        "corrections",
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_corrections_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "position", name=op.f("pk_corrections")),
    )
    op.create_table(
        "revisions",
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_revisions_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "number", name=op.f("pk_revisions")),
    )
    op.create_table(
        "sections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=True),
        sa.Column(
            "paragraphs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_sections_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sections")),
        sa.UniqueConstraint("article_id", "position", name=op.f("uq_sections_article_id")),
    )
    op.create_table(
        "takeaways",
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_takeaways_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "position", name=op.f("pk_takeaways")),
    )

    create_search_index()


def downgrade() -> None:
    drop_search_index()

    op.drop_table("takeaways")
    op.drop_table("sections")
    op.drop_table("revisions")
    op.drop_table("corrections")
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_article_tags_tag")

    op.drop_table("article_tags")
    with op.batch_alter_table("article_authors", schema=None) as batch_op:
        batch_op.drop_index("ix_article_authors_author")

    op.drop_table("article_authors")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_updated_at_id")
        batch_op.drop_index("ix_articles_published_at_id")
        batch_op.drop_index("ix_articles_category_published")

    op.drop_table("articles")
    op.drop_table("tags")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_article_id")

    op.drop_table("changes")
    op.drop_table("categories")
    op.drop_table("authors")


# The full-text index has a different shape on each backend and is kept out of the ORM
# metadata (migrations/env.py skips it): an FTS5 table on SQLite, a weighted tsvector
# with a GIN index on PostgreSQL. app/articles/search.py is the one interface over both.
def create_search_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE article_search USING fts5("
            "article_id UNINDEXED, headline, dek, takeaways, body, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        return
    op.execute(
        "CREATE TABLE article_search ("
        "article_id VARCHAR(40) PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE, "
        "headline TEXT NOT NULL, dek TEXT NOT NULL, takeaways TEXT NOT NULL, body TEXT NOT NULL, "
        "document tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('english', headline), 'A') || "
        "setweight(to_tsvector('english', dek), 'B') || "
        "setweight(to_tsvector('english', takeaways), 'B') || "
        "setweight(to_tsvector('english', body), 'C')) STORED)"
    )
    op.execute("CREATE INDEX ix_article_search_document ON article_search USING gin (document)")


def drop_search_index() -> None:
    op.execute("DROP TABLE IF EXISTS article_search")
