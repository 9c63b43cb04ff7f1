"""Webhook subscriptions can be disabled (failing too long).

Revision ID: 1b8e4d2f6a73
Revises: 0a9b7c3e5d21
Create Date: 2026-11-30 22:00:00.000000

Widens the status check; batch mode, because SQLite changes a constraint by copying the
table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1b8e4d2f6a73"
down_revision: str | None = "0a9b7c3e5d21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_webhook_subscriptions_status"


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.drop_constraint(op.f(NAME), type_="check")
        table.create_check_constraint(op.f(NAME), "status IN ('active', 'failing', 'disabled')")


def downgrade() -> None:
    op.execute("UPDATE webhook_subscriptions SET status = 'failing' WHERE status = 'disabled'")
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.drop_constraint(op.f(NAME), type_="check")
        table.create_check_constraint(op.f(NAME), "status IN ('active', 'failing')")
