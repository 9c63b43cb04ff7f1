"""Former slugs: the slugs articles gave up, so that old links lead to the article.

Revision ID: 3d7a2e9c4b15
Revises: 2c5f9a1d7e84
Create Date: 2026-12-01 00:00:00.000000

Articles whose slug changed before this migration have no former slug recorded (their
revisions hold them, but a slug since taken by another article must not be claimed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d7a2e9c4b15"
down_revision: str | None = "2c5f9a1d7e84"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "former_slugs",
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("article_id", sa.String(length=40), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_former_slugs_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_former_slugs")),
    )
    with op.batch_alter_table("former_slugs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_former_slugs_article_id"), ["article_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("former_slugs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_former_slugs_article_id"))
    op.drop_table("former_slugs")
