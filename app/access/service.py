"""API keys: creation, listing, revocation and authentication. Keys are stored only as hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import RATE_LIMIT
from app.core.errors import Conflict, NotFound, invalid_param
from app.models import ApiKey

SCOPES = ("read", "syndicate", "write", "stats", "admin")
KEY_PREFIX = "byl_"
KEY_ID = re.compile(r"key_[0-9a-f]{16}")  # the form of the ids `create` makes
MAX_NAME = 200  # the column's length


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a request knows about the key it came with."""

    id: str
    name: str
    scopes: frozenset[str]
    categories: tuple[str, ...] | None  # None: every category
    rate_limit: str | None

    def allows_category(self, slug: str) -> bool:
        return self.categories is None or slug in self.categories


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def info_of(key: ApiKey) -> KeyInfo:
    categories = tuple(key.categories) if key.categories is not None else None
    return KeyInfo(key.id, key.name, frozenset(key.scopes), categories, key.rate_limit)


def check_rate_limit(value: str | None, field: str = "rate_limit") -> str | None:
    """A limit like `100/minute`, normalised; None means the default for the key's scopes."""
    if value is None:
        return None
    if RATE_LIMIT.match(value) is None:
        raise invalid_param(
            field, "must look like N/second, N/minute, N/hour or N/day", where="body"
        )
    amount, _, unit = value.partition("/")
    return f"{int(amount)}/{unit.strip()}"


def check_name(name: str) -> str:
    """A key's name, trimmed: not empty, and never shaped like a key id, because revoking
    and reading a key take its id or its name (a name `key_…` could stand for another key)."""
    trimmed = name.strip()
    if not trimmed:
        raise invalid_param("name", "must not be empty", where="body")
    if len(trimmed) > MAX_NAME:
        raise invalid_param("name", f"must be at most {MAX_NAME} characters", where="body")
    if KEY_ID.fullmatch(trimmed):
        raise invalid_param(
            "name", "must not look like a key id (key_ and 16 hex digits)", where="body"
        )
    return trimmed


def check_scopes(scopes: Sequence[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise invalid_param("scopes", f"choose one or more of {', '.join(SCOPES)}", where="body")
    return [scope for scope in SCOPES if scope in scopes]


async def create(
    session: AsyncSession, *, name: str, scopes: Sequence[str], categories: Sequence[str] | None,
    rate_limit: str | None, now: dt.datetime,
) -> tuple[ApiKey, str]:  # fmt: skip
    """A new key; the secret is returned once and only its hash is stored."""
    secret = new_secret()
    name = check_name(name)
    key = ApiKey(
        id="key_" + secrets.token_hex(8), name=name, secret_hash=hash_secret(secret),
        prefix=secret[:12], scopes=check_scopes(scopes),
        categories=sorted(set(categories)) if categories else None,
        rate_limit=check_rate_limit(rate_limit), created_at=now, revoked_at=None,
    )  # fmt: skip
    session.add(key)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"A key named {name!r} already exists.") from None
    return key, secret


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


async def get(session: AsyncSession, id_or_name: str) -> ApiKey:
    key = await session.scalar(
        select(ApiKey).where(or_(ApiKey.id == id_or_name, ApiKey.name == id_or_name))
    )
    if key is None:
        raise NotFound(f"No key with id or name {id_or_name!r}.")
    return key


async def revoke(session: AsyncSession, id_or_name: str, now: dt.datetime) -> ApiKey:
    key = await get(session, id_or_name)
    if key.revoked_at is None:
        key.revoked_at = now
        await session.flush()
    return key


async def revocations(session: AsyncSession) -> tuple[int, dt.datetime | None]:
    """How many keys are revoked, and the latest revocation: it moves with every revoke."""
    row = await session.execute(
        select(func.count(), func.max(ApiKey.revoked_at)).where(ApiKey.revoked_at.is_not(None))
    )
    count, latest = row.one()
    return int(count), latest


async def authenticate(session: AsyncSession, secret: str) -> KeyInfo | None:
    """The live key with this secret, or None; the stored hash is compared in constant time."""
    digest = hash_secret(secret)
    key = await session.scalar(select(ApiKey).where(ApiKey.secret_hash == digest))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, digest):
        return None
    return info_of(key)
