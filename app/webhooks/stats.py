"""GET /v1/stats/webhooks: the health of every subscription, for the dashboard (scope `stats`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.deps import require_scope
from app.access.service import KeyInfo
from app.core.deps import Now, Session
from app.core.http import PRIVATE_CACHE_CONTROL
from app.models import DeliveryState, WebhookDelivery, WebhookSubscription

router = APIRouter(prefix="/v1/stats", tags=["stats"])
StatsKey = Annotated[KeyInfo, Depends(require_scope("stats"))]
WINDOW = dt.timedelta(hours=24)


class WebhookHealth(BaseModel):
    id: str
    url: str
    status: Literal["active", "failing", "disabled"]
    failing_since: dt.datetime | None
    last_success_at: dt.datetime | None
    pending: int
    delivered_24h: int
    failed_24h: int


class WebhookHealthList(BaseModel):
    data: list[WebhookHealth]


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def health(session: AsyncSession, now: dt.datetime) -> list[WebhookHealth]:
    """Every subscription (oldest first) with its queue and the last 24 hours' outcomes."""
    d, s = WebhookDelivery, WebhookSubscription
    since = now - WINDOW
    recent = d.finished_at >= since
    # Only the rows that can count are aggregated: pending ones and those finished lately.
    counts = (
        select(
            d.subscription_id.label("subscription_id"),
            _count(d.state == DeliveryState.PENDING.value).label("pending"),
            _count((d.state == DeliveryState.DELIVERED.value) & recent).label("delivered"),
            _count((d.state == DeliveryState.FAILED.value) & recent).label("failed"),
        )
        .where(or_(d.state == DeliveryState.PENDING.value, recent))
        .group_by(d.subscription_id)
        .subquery()
    )
    query = (
        select(s, counts.c.pending, counts.c.delivered, counts.c.failed)
        .outerjoin(counts, counts.c.subscription_id == s.id)
        .order_by(s.created_at, s.id)
    )
    return [
        WebhookHealth(
            id=sub.id,
            url=sub.url,
            status=sub.status,
            failing_since=sub.failing_since,
            last_success_at=sub.last_success_at,
            pending=pending or 0,
            delivered_24h=delivered or 0,
            failed_24h=failed or 0,
        )
        for sub, pending, delivered, failed in await session.execute(query)
    ]


@router.get(
    "/webhooks",
    operation_id="getWebhookStats",
    response_model=WebhookHealthList,
    responses={
        401: {"description": "No or unknown key"},
        403: {"description": "The key lacks the `stats` scope"},
    },
)
async def webhook_stats(
    session: Session, now: Now, response: Response, _: StatsKey
) -> WebhookHealthList:
    """Every webhook subscription's status, pending deliveries, and deliveries of the last 24 h."""
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    return WebhookHealthList(data=await health(session, now))
