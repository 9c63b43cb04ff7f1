"""Webhook secrets may be stored encrypted: room for a Fernet token.

Revision ID: 2c5f9a1d7e84
Revises: 1b8e4d2f6a73
Create Date: 2026-11-30 23:00:00.000000

`secret` and `previous_secret` grow from 100 to 400 characters (a `fernet:` token of a
50-character secret is 171). Existing values are kept as they are; `byline webhooks
seal-secrets` encrypts them once BYLINE_SECRET_KEYS is set. A downgrade needs every stored
value to fit in 100 characters again, so it fails while encrypted secrets are stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2c5f9a1d7e84"
down_revision: str | None = "1b8e4d2f6a73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("secret", "previous_secret")


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as table:
        for column in COLUMNS:
            table.alter_column(column, type_=sa.String(400), existing_type=sa.String(100))


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as table:
        for column in COLUMNS:
            table.alter_column(column, type_=sa.String(100), existing_type=sa.String(400))
