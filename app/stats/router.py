"""The /v1/stats endpoints (scope `stats`) and the frontend read counter (no key)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.access.deps import require_scope
from app.access.service import KeyInfo
from app.articles.service import visible
from app.core.deps import AppSettings, Now, Session
from app.core.errors import NotFound, invalid_param
from app.core.http import PRIVATE_CACHE_CONTROL, given_once, json_bytes
from app.models import Article
from app.stats import service
from app.stats.schemas import MostRead, Overview, Publishing, TermCounts, Usage
from app.stats.views import ViewCounter

# Every parameter of these routes has one value (app/core/http.py given_once).
router = APIRouter(
    prefix="/v1",
    tags=["stats"],
    dependencies=[Depends(given_once("interval", "from", "to", "limit", "period"))],
)
StatsKey = Annotated[KeyInfo, Depends(require_scope("stats"))]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
PROBLEMS: dict[int | str, dict[str, Any]] = {401: PROBLEM, 403: PROBLEM, 422: PROBLEM}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_DAYS, MAX_WEEKS = 366, 520
PUBLISHING_DAYS, USAGE_DAYS = 30, 7  # default ranges, ending today


def _private(body: Any) -> Response:
    return Response(
        json_bytes(body),
        headers={"Cache-Control": PRIVATE_CACHE_CONTROL},
        media_type="application/json",
    )


def _date(raw: str | None, name: str) -> dt.date | None:
    if raw is None:
        return None
    try:
        if DATE.fullmatch(raw) is None:
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise invalid_param(name, "must be a date, YYYY-MM-DD") from None


def _range(
    raw_from: str | None, raw_to: str | None, now: dt.datetime, default_days: int
) -> tuple[dt.date, dt.date]:
    last = _date(raw_to, "to") or now.date()
    first = _date(raw_from, "from") or _default_first(last, default_days)
    if first > last:
        raise invalid_param("from", "must not be after `to`")
    return first, last


def _default_first(last: dt.date, days: int) -> dt.date:
    """The first day of the default range of `days` ending on `last`."""
    try:
        return last - dt.timedelta(days=days - 1)
    except OverflowError:
        # The range would start before year 1, which dates cannot hold: `to` is at fault.
        earliest = dt.date.min + dt.timedelta(days=days - 1)
        raise invalid_param(
            "to", f"must be {earliest.isoformat()} or later when `from` is not given"
        ) from None


@router.get(
    "/stats/overview", operation_id="getStatsOverview", response_model=Overview, responses=PROBLEMS
)
async def get_overview(_: StatsKey, session: Session, now: Now) -> Response:
    """Articles by status (published = public now), and totals of categories, authors and tags."""
    return _private(await service.overview(session, now))


@router.get(
    "/stats/publishing",
    operation_id="getStatsPublishing",
    response_model=Publishing,
    responses=PROBLEMS,
)
async def get_publishing(
    _: StatsKey,
    session: Session,
    now: Now,
    interval: Literal["day", "week"] = "day",
    from_: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="YYYY-MM-DD, default today (UTC)")] = None,
) -> Response:
    """Articles made public per day or per week (from Monday), every period present."""
    first, last = _range(from_, to, now, PUBLISHING_DAYS)
    days = (last - first).days + 1
    if interval == "day" and days > MAX_DAYS:
        raise invalid_param("from", f"a daily range covers at most {MAX_DAYS} days")
    if (
        interval == "week"
        and (service.monday_of(last) - service.monday_of(first)).days // 7 >= MAX_WEEKS
    ):
        raise invalid_param("from", f"a weekly range covers at most {MAX_WEEKS} weeks")
    data = await service.publishing(session, interval, first, last, now)
    return _private({"interval": interval, "from": first, "to": last, "data": data})


@router.get(
    "/stats/categories",
    operation_id="getStatsCategories",
    response_model=TermCounts,
    responses=PROBLEMS,
)
async def get_categories(_: StatsKey, session: Session, now: Now) -> Response:
    """Every category with its number of public articles, most first."""
    return _private({"data": await service.categories(session, now)})


@router.get(
    "/stats/authors", operation_id="getStatsAuthors", response_model=TermCounts, responses=PROBLEMS
)
async def get_authors(
    _: StatsKey, session: Session, now: Now, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Response:
    """The authors with the most public articles, most first."""
    return _private({"data": await service.authors(session, now, limit)})


@router.get("/stats/usage", operation_id="getStatsUsage", response_model=Usage, responses=PROBLEMS)
async def get_usage(
    _: StatsKey,
    session: Session,
    now: Now,
    from_: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="YYYY-MM-DD, default today (UTC)")] = None,
) -> Response:
    """Requests per UTC day, key (null: anonymous), endpoint and status."""
    first, last = _range(from_, to, now, USAGE_DAYS)
    if (last - first).days + 1 > MAX_DAYS:
        raise invalid_param("from", f"a range covers at most {MAX_DAYS} days")
    return _private({"from": first, "to": last, "data": await service.usage(session, first, last)})


@router.get(
    "/stats/most-read", operation_id="getStatsMostRead", response_model=MostRead, responses=PROBLEMS
)
async def get_most_read(
    key: StatsKey,
    request: Request,
    session: Session,
    settings: AppSettings,
    now: Now,
    period: Literal["1d", "7d", "30d"] = "7d",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Response:
    """The public articles read most over the last 1, 7 or 30 UTC days (today included)."""
    query = service.MostReadQuery(period, limit, key.categories, settings.public_base_url)
    data = await service.most_read(session, query, now, request.app.state.views)
    return _private({"period": period, "data": data})


@router.post(
    "/articles/{key}/views",
    operation_id="recordArticleView",
    status_code=202,
    responses={204: {"description": "Already counted for this client this minute"}, 404: PROBLEM},
)
async def record_view(key: str, request: Request, session: Session, now: Now) -> Response:
    """Record one read of a public article by a frontend (once per client per minute)."""
    article_id = await _public_id(session, key, now)
    counter: ViewCounter = request.app.state.view_counter
    client = request.client.host if request.client else "unknown"
    counted = counter.record(client, article_id, now.timestamp())
    return Response(status_code=202 if counted else 204)


async def _public_id(session: AsyncSession, key: str, now: dt.datetime) -> str:
    for column in (Article.id, Article.slug):
        found = await session.scalar(select(Article.id).where(column == key, visible(now)))
        if found is not None:
            return found
    raise NotFound(f"No published article with id or slug {key!r}.")
