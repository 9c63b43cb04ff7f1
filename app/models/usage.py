"""API usage, counted per day, key, endpoint and status (flushed in batches by each server)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class UsageDaily(Base):
    __tablename__ = "usage_daily"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "" for anonymous
    endpoint: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
