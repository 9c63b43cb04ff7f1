"""Idempotency-Key: the first response to a write is stored and replayed for every repeat."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInput
from app.models import IdempotencyRecord

PENDING = 0


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    location: str | None


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """Same method, path and JSON (key order aside) give the same fingerprint."""
    canonical = orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def begin(
    session: AsyncSession, key_id: str, idempotency_key: str, fingerprint: str, now: dt.datetime
) -> StoredResponse | None:
    """The stored response to replay, or None after claiming the key for this request.

    The claim is an INSERT on the (key, Idempotency-Key) primary key: a concurrent request
    with the same key waits for the first to commit, then finds its response.
    """
    stored = await _stored(session, key_id, idempotency_key, fingerprint)
    if stored is not None:
        return stored
    record = IdempotencyRecord(
        key_id=key_id, idempotency_key=idempotency_key, request_hash=fingerprint,
        status_code=PENDING, body=b"", location=None, created_at=now,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return await _stored(session, key_id, idempotency_key, fingerprint)
    return None


async def complete(
    session: AsyncSession, key_id: str, idempotency_key: str, response: StoredResponse
) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.key_id == key_id, IdempotencyRecord.idempotency_key == idempotency_key
        )
        .values(status_code=response.status, body=response.body, location=response.location)
    )


async def _stored(
    session: AsyncSession, key_id: str, idempotency_key: str, fingerprint: str
) -> StoredResponse | None:
    record = await session.scalar(
        select(IdempotencyRecord)
        .where(
            IdempotencyRecord.key_id == key_id, IdempotencyRecord.idempotency_key == idempotency_key
        )
        .execution_options(populate_existing=True)
    )
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise InvalidInput(
            "This Idempotency-Key was already used with a different request.",
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "already used with a different request body",
                }
            ],
        )
    return StoredResponse(record.status_code, record.body, record.location)
