"""The change log: one row per change to an article, written in the change's transaction."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.models.types import BigIntKey


class ChangeEvent(enum.StrEnum):
    PUBLISHED = "published"
    UPDATED = "updated"
    UNPUBLISHED = "unpublished"
    RETRACTED = "retracted"
    DELETED = "deleted"
    CORRECTED = "corrected"
    CREATED = "created"


EVENT_VALUES = ", ".join(f"'{event.value}'" for event in ChangeEvent)


class Change(Base):
    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint(f"event IN ({EVENT_VALUES})", name="event"),
        Index("ix_changes_article_id", "article_id"),
    )

    # No foreign key to articles: the log outlives what it describes (tombstones).
    seq: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(String(16))
    article_id: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Who may see the change (app/changes/service.py): the article's category after it, and
    # the category partners could see it in before and after it (NULL: they could not).
    # Rows written without them (NULL category) are judged by the article as it is now.
    category: Mapped[str | None] = mapped_column(String(120))
    shared_in: Mapped[str | None] = mapped_column(String(120))
    was_shared_in: Mapped[str | None] = mapped_column(String(120))
    # When the row was inserted, by PostgreSQL's clock (a server default there; `at` is the
    # event's own time, which an embargo lift sets in the past). The feed uses it to tell a
    # seq that may still commit from a rolled-back one. SQLite commits seqs in order.
    logged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
