"""The /v1/stats response shapes (agreed with the dashboard; see docs/STATS.md)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.articles.schemas import ArticleSummary


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class ArticleCounts(Schema):
    published: int
    draft: int
    scheduled: int
    retracted: int
    deleted: int


class Overview(Schema):
    articles: ArticleCounts
    categories: int
    authors: int
    tags: int


class PeriodCount(Schema):
    period: dt.date
    count: int


class Publishing(Schema):
    interval: Literal["day", "week"]
    from_: dt.date = Field(alias="from")
    to: dt.date
    data: list[PeriodCount]


class TermCount(Schema):
    slug: str
    name: str
    count: int


class TermCounts(Schema):
    data: list[TermCount]


class UsageRow(Schema):
    day: dt.date
    key_id: str | None
    key_name: str | None
    endpoint: str
    status: int
    count: int


class Usage(Schema):
    from_: dt.date = Field(alias="from")
    to: dt.date
    data: list[UsageRow]


class MostReadEntry(Schema):
    article: ArticleSummary
    views: int


class MostRead(Schema):
    period: Literal["1d", "7d", "30d"]
    data: list[MostReadEntry]
