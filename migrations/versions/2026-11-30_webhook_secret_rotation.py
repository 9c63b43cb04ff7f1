"""Webhook secrets can be rotated: the replaced secret keeps signing for a while.

Revision ID: 0a9b7c3e5d21
Revises: f95e3b0a6c43
Create Date: 2026-11-30 21:00:00.000000

Two nullable columns; existing subscriptions have no previous secret.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a9b7c3e5d21"
down_revision: str | None = "f95e3b0a6c43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.add_column(sa.Column("previous_secret", sa.String(100), nullable=True))
        table.add_column(
            sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.drop_column("previous_secret_expires_at")
        table.drop_column("previous_secret")
