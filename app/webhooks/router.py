"""/v1/webhooks: subscriptions (admin keys: anyone's; partner keys with `syndicate`: their own)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.access.deps import AnyKey
from app.access.service import KeyInfo
from app.core.deps import AppSettings, Now, Session, WriteSession
from app.core.errors import AppError, checks_access, invalid_param
from app.core.http import PRIVATE_CACHE_CONTROL, decode_cursor, encode_cursor
from app.webhooks import service
from app.webhooks.schemas import (
    DeliveryAttemptList,
    DeliveryAttemptRead,
    PageMeta,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
    WebhookRotate,
)
from app.webhooks.secrets import box_of
from app.webhooks.ssrf import Policy

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
PROBLEMS: dict[int | str, dict[str, object]] = {
    401: {"description": "No or unknown key"},
    403: {"description": "The key has neither `admin` nor `syndicate`"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "Unknown subscription"}}
CURSOR_SORT = "attempts"


def _managing_refusal(request: Request) -> AppError | None:
    """What `_managing_key` refuses, judged also when the body could not be decoded."""
    key: KeyInfo | None = request.scope.get("state", {}).get("api_key")
    return None if key is None else service.caller_refusal(key)  # AnyKey answers the 401


@checks_access(_managing_refusal)
async def _managing_key(key: AnyKey) -> KeyInfo:
    """The caller, if its key may manage subscriptions (401 without a key, else 403).

    A dependency, so FastAPI checks it before it validates the query and the body: a key
    that may not use a route learns that, not what its input should have been.
    """
    service.check_caller(key)
    return key


ManagingKey = Annotated[KeyInfo, Depends(_managing_key)]


def _read(subscription: object) -> WebhookRead:
    return WebhookRead.model_validate(subscription)


@router.post(
    "",
    operation_id="createWebhook",
    status_code=201,
    response_model=WebhookCreated,
    responses={**PROBLEMS, 422: {"description": "Bad URL, event, category or key"}},
)
async def create_webhook(
    body: WebhookCreate, session: WriteSession, settings: AppSettings, now: Now,
    response: Response, key: ManagingKey,
) -> WebhookCreated:  # fmt: skip
    """Subscribe a URL to article events; the signing secret is in this response only."""
    policy = Policy(settings.webhook_allow_private_targets)
    subscription, secret = await service.create(
        session, key, body, policy=policy, box=box_of(settings), now=now
    )
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    response.headers["Location"] = f"/v1/webhooks/{subscription.id}"
    return WebhookCreated(**_read(subscription).model_dump(), secret=secret)


@router.get("", operation_id="listWebhooks", response_model=WebhookList, responses=PROBLEMS)
async def list_webhooks(session: Session, response: Response, key: ManagingKey) -> WebhookList:
    """The caller's subscriptions (every subscription, for admin keys), without secrets."""
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    return WebhookList(data=[_read(s) for s in await service.list_subscriptions(session, key)])


@router.get(
    "/{webhook_id}",
    operation_id="getWebhook",
    response_model=WebhookRead,
    responses={**PROBLEMS, **NOT_FOUND},
)
async def get_webhook(
    webhook_id: str, session: Session, response: Response, key: ManagingKey
) -> WebhookRead:
    """One subscription (without its secret), with its status: `active`, `failing` or `disabled`."""
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    return _read(await service.get(session, key, webhook_id))


@router.post(
    "/{webhook_id}/enable",
    operation_id="enableWebhook",
    response_model=WebhookRead,
    responses={**PROBLEMS, **NOT_FOUND},
)
async def enable_webhook(
    webhook_id: str, session: WriteSession, response: Response, key: ManagingKey
) -> WebhookRead:
    """Make a `disabled` (or `failing`) subscription `active` again. Events of the time it
    was disabled are not sent: replay them from the change feed (`GET /v1/changes`)."""
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    return _read(await service.enable(session, key, webhook_id))


@router.post(
    "/{webhook_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    response_model=WebhookCreated,
    responses={**PROBLEMS, **NOT_FOUND, 422: {"description": "Bad overlap"}},
)
async def rotate_secret(
    webhook_id: str, session: WriteSession, settings: AppSettings, now: Now, response: Response,
    key: ManagingKey, body: WebhookRotate | None = None,
) -> WebhookCreated:  # fmt: skip
    """A new signing secret, shown in this response only. Until `previous_secret_expires_at`
    (`overlap_seconds`, one day by default) every delivery carries a signature with each
    secret, so the receiver can switch to the new one without rejecting a message."""
    overlap = dt.timedelta(seconds=(body or WebhookRotate()).overlap_seconds)
    subscription, secret = await service.rotate_secret(
        session, key, webhook_id, overlap=overlap, box=box_of(settings), now=now
    )
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    return WebhookCreated(**_read(subscription).model_dump(), secret=secret)


@router.delete(
    "/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=204,
    responses={**PROBLEMS, **NOT_FOUND},
)
async def delete_webhook(webhook_id: str, session: WriteSession, key: ManagingKey) -> Response:
    """Unsubscribe: pending deliveries are dropped and the log goes with it."""
    await service.delete_subscription(session, key, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=DeliveryAttemptList,
    responses={**PROBLEMS, **NOT_FOUND, 422: {"description": "Bad limit or cursor"}},
)
async def list_deliveries(
    webhook_id: str, session: Session, settings: AppSettings, response: Response, key: ManagingKey,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryAttemptList:  # fmt: skip
    """The delivery log, newest first: each attempt's time, status code or error, and duration."""
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    before = _cursor_id(settings.cursor_secret, cursor)
    rows, next_id = await service.attempts(session, key, webhook_id, limit=limit, before=before)
    next_cursor = encode_cursor(settings.cursor_secret, CURSOR_SORT, [next_id]) if next_id else None
    return DeliveryAttemptList(
        data=[
            DeliveryAttemptRead.model_validate(
                {
                    "id": r.id,
                    "message_id": r.message_id,
                    "seq": r.seq,
                    "event": r.event,
                    "article_id": r.article_id,
                    "revision": r.revision,
                    "attempt": r.number,
                    "at": r.at,
                    "duration_ms": r.duration_ms,
                    "status_code": r.status_code,
                    "error": r.error,
                    "delivery_state": r.delivery_state,
                }
            )
            for r in rows
        ],
        meta=PageMeta(limit=limit, next_cursor=next_cursor),
    )


def _cursor_id(secret: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    values = decode_cursor(secret, CURSOR_SORT, cursor)
    if len(values) != 1 or not isinstance(values[0], int):
        raise invalid_param("cursor", "is not a cursor this API issued")
    return values[0]
