"""HTTP helpers shared by features: opaque cursors, ETags, caching and conditional GET."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError

from app.core.config import Settings
from app.core.errors import invalid_param

CursorValue = str | int | float


def encode_cursor(secret: str, sort: str, values: Sequence[CursorValue]) -> str:
    """An opaque, tamper-evident keyset position: base64url(JSON) + a short HMAC."""
    payload = orjson.dumps({"s": sort, "k": list(values)})
    tag = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(payload + tag).decode().rstrip("=")


def decode_cursor(secret: str, sort: str, cursor: str) -> list[CursorValue]:
    """The keyset values of a cursor made for this sort; anything else is a 422 on `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise invalid_param("cursor", "is not a cursor this API issued") from None
    payload, tag = raw[:-12], raw[-12:]
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:12]
    if len(raw) <= 12 or not hmac.compare_digest(tag, expected):
        raise invalid_param("cursor", "is not a cursor this API issued")
    data = orjson.loads(payload)
    if data.get("s") != sort:
        raise invalid_param("cursor", f"was issued for sort={data.get('s')}, not sort={sort}")
    values: list[CursorValue] = data["k"]
    return values


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def http_date(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def public_cache_control(settings: Settings) -> str:
    return (
        f"public, max-age={settings.cache_max_age}, "
        f"stale-while-revalidate={settings.cache_stale_while_revalidate}"
    )


PRIVATE_CACHE_CONTROL = "private, no-store"


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    return etag in (tag.strip().removeprefix("W/") for tag in header.split(","))


def is_not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, last_modified: float | None
) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match wins; If-Modified-Since counts only without it.

    `last_modified` is a POSIX timestamp; HTTP dates have whole seconds.
    """
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag)
    if if_modified_since is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:  # asctime dates name no zone: HTTP dates are all GMT
        since = since.replace(tzinfo=dt.UTC)
    return int(last_modified) <= since.timestamp()


def json_bytes(data: Any) -> bytes:
    return orjson.dumps(data)


REPEATED = "has several different values; give it once"


def given_once(*names: str) -> Callable[[Request], None]:
    """A dependency refusing these query parameters given twice with different values.

    FastAPI keeps the last of repeated values and never looks at the others, so
    `?limit=abc&limit=5` would pass where `?limit=abc` is a 422 (API.md 1). Raised as a
    validation error, so that a route's key checks still answer first (401/403).
    """

    def check(request: Request) -> None:
        query = request.query_params
        repeated = [name for name in names if len(set(query.getlist(name))) > 1]
        if repeated:
            raise RequestValidationError(
                [{"type": "repeated", "loc": ("query", name), "msg": REPEATED} for name in repeated]
            )

    return check
