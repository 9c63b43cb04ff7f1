"""Statistics: article counts maintained in each write's transaction, and read counts per day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class StatsDaily(Base):
    """Live (published or scheduled) articles by the UTC day of their publication time."""

    __tablename__ = "stats_daily"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class StatsTermCount(Base):
    """Articles per category, author or tag, by bucket (`live`, `draft`, `retracted`, `deleted`).

    Published and scheduled articles share the `live` bucket: an embargo lifts without a
    write, so whether a live article is public is decided when the counts are read.
    """

    __tablename__ = "stats_term_counts"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # category, author, tag
    term_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class ArticleViewsDaily(Base):
    """Reads recorded by frontends, per article and UTC day (flushed in batches by each server)."""

    __tablename__ = "article_views_daily"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class ArticleViewsRecent(Base):
    """Reads per article over the last 1, 7 and 30 days, kept by the flushes (most-read)."""

    __tablename__ = "article_views_recent"
    __table_args__ = (Index("ix_article_views_recent_rank", "period", "count", "article_id"),)

    period: Mapped[int] = mapped_column(Integer, primary_key=True)  # days: 1, 7 or 30
    article_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class StatsState(Base):
    """Small named dates; `views_window`: the day the recent-read windows end on."""

    __tablename__ = "stats_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
