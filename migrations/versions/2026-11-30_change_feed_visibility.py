"""Who may see each change (the article's category; where partners could see it) and when it was logged.

Revision ID: d62b1f8c4e21
Revises: c51a0e7b3d10
Create Date: 2026-11-30 14:00:00.000000

Existing rows are backfilled from the revision snapshots: the revision a change made
says where the article stood after it, the revision before says where it stood before.
A row whose snapshot is missing keeps NULLs, which the feed reads as "judge by the
article as it is now" (app/changes/service.py).
"""

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision: str = "d62b1f8c4e21"
down_revision: str | None = "c51a0e7b3d10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("category", "shared_in", "was_shared_in")
BATCH = 1_000

changes = sa.table(
    "changes",
    sa.column("seq", sa.BigInteger()),
    sa.column("article_id", sa.String()),
    sa.column("revision", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    *(sa.column(name, sa.String()) for name in COLUMNS),
)
revisions = sa.table(
    "revisions",
    sa.column("article_id", sa.String()),
    sa.column("number", sa.Integer()),
    sa.column("snapshot", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("changes", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("logged_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Set after the column exists, so old rows stay NULL (old: never a young gap) and
        # the table is not rewritten. clock_timestamp(): the insert's moment, not its
        # transaction's start.
        op.execute("ALTER TABLE changes ALTER COLUMN logged_at SET DEFAULT clock_timestamp()")
    backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_column("logged_at")
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)


def backfill(bind: Connection) -> None:
    for rows in _batches(bind):
        updates = [_columns(row) for row in rows]
        updates = [u for u in updates if u is not None]
        if updates:
            stmt = (
                changes.update()
                .where(changes.c.seq == sa.bindparam("b_seq"))
                .values({name: sa.bindparam(f"b_{name}") for name in COLUMNS})
            )
            bind.execute(stmt, updates)


def _batches(bind: Connection) -> Iterator[Sequence[Any]]:
    """Change rows with the snapshot of their revision and of the one before, by seq."""
    after = revisions.alias("after_change")
    before = revisions.alias("before_change")
    stmt = (
        sa.select(changes.c.seq, changes.c.at, after.c.snapshot, before.c.snapshot)
        .select_from(changes)
        .outerjoin(
            after,
            sa.and_(
                after.c.article_id == changes.c.article_id, after.c.number == changes.c.revision
            ),
        )
        .outerjoin(
            before,
            sa.and_(
                before.c.article_id == changes.c.article_id,
                before.c.number == changes.c.revision - 1,
            ),
        )
        .order_by(changes.c.seq)
        .limit(BATCH)
    )
    last = None
    while True:
        page = stmt if last is None else stmt.where(changes.c.seq > last)
        rows = bind.execute(page).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _columns(row: Sequence[Any]) -> dict[str, Any] | None:
    seq, at, after, before = row
    after, before = _json(after), _json(before)
    if after is None:
        return None  # no snapshot to judge by: the feed judges it by the article as it is now
    moment = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return {
        "b_seq": seq,
        "b_category": after["category"]["slug"],
        "b_shared_in": _shared_in(after, moment),
        "b_was_shared_in": _shared_in(before, moment),
    }


def _json(value: Any) -> dict[str, Any] | None:
    return json.loads(value) if isinstance(value, str) else value


def _shared_in(snapshot: dict[str, Any] | None, moment: dt.datetime) -> str | None:
    """The category partners could see this revision in at `moment`, or None."""
    if snapshot is None or not snapshot.get("rights", {}).get("syndication", True):
        return None
    status, published = snapshot.get("status"), snapshot.get("published_at")
    if status not in ("published", "scheduled") or published is None:
        return None
    if dt.datetime.fromisoformat(published) > moment:
        return None  # still under embargo
    slug: str = snapshot["category"]["slug"]
    return slug
