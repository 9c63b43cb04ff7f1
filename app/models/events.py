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
