"""One validated Settings object: every knob is a BYLINE_ environment variable."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SQLITE_DEFAULT = "sqlite:///var/byline.db"
RATE_LIMIT = re.compile(r"^\s*[1-9]\d*\s*/\s*(second|minute|hour|day)\s*$")


def async_database_url(url: str) -> str:
    """Map a plain database URL to the async driver Byline uses for it.

    Users write `sqlite:///path.db` or `postgresql://...`; a URL that already names a
    driver (`postgresql+asyncpg://`) is kept as it is.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if "+" in scheme:
        return url
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database scheme {scheme!r}: use sqlite:// or postgresql://")


def _backend(url: str) -> str:
    return async_database_url(url).partition("://")[0].partition("+")[0]


class Settings(BaseSettings):
    """Byline's configuration, read from the environment (prefix BYLINE_)."""

    # Errors name the setting, never its value: values hold passwords and keys.
    model_config = SettingsConfigDict(
        env_prefix="BYLINE_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = SQLITE_DEFAULT
    # A read replica for public reads (docs/DEPLOY.md); unset, everything uses database_url.
    database_read_url: str | None = None
    redis_url: str | None = None
    anonymous_rate_limit: str = "3000/minute"
    key_rate_limit: str = "12000/minute"
    # /metrics for `stats` keys only; by default it is open, like /healthz and /readyz.
    metrics_require_key: bool = False
    # Where the workers of one server add up their /metrics (app/ops/workers.py); `byline
    # serve --workers N` makes a temporary one when this is unset.
    metrics_dir: Path | None = None
    # Seconds /metrics waits for the webhook queue counts before answering without them.
    metrics_queue_timeout: float = Field(2.0, gt=0, le=30)
    key_cache_seconds: float = Field(5.0, ge=0, le=300)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_import_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    public_base_url: str = "http://127.0.0.1:8000"
    cors_origins: Annotated[list[str], NoDecode] = ["*"]
    cache_max_age: int = Field(60, ge=1, le=300)
    cache_stale_while_revalidate: int = Field(30, ge=0, le=86400)
    cache_poll_interval: float = Field(1.0, gt=0, le=60)
    cache_max_bytes: int = Field(32 * 1024 * 1024, ge=0)
    view_cache_entries: int = Field(2_000, ge=0)
    cursor_secret: str = "byline-cursor-integrity"
    default_language: str = "en"
    copyright_holder: str = "Byline"
    usage_terms: str = "All rights reserved. Syndication by agreement only."
    log_level: str = "INFO"
    # Webhooks (app/webhooks, `byline worker`): see docs/WEBHOOKS.md.
    webhook_allow_private_targets: bool = False
    webhook_max_attempts: int = Field(10, ge=1, le=100)
    webhook_backoff_base_seconds: float = Field(15.0, gt=0, le=86400)
    webhook_backoff_max_seconds: float = Field(3600.0, gt=0, le=7 * 86400)
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=300)
    webhook_lease_seconds: float = Field(60.0, gt=0, le=3600)
    webhook_concurrency: int = Field(32, ge=1, le=1000)
    webhook_poll_interval: float = Field(0.5, gt=0, le=60)
    webhook_retention_days: int = Field(30, ge=1)
    # A subscription failing this long (every delivery running out of attempts) is disabled;
    # 0 keeps failing subscriptions receiving forever.
    webhook_disable_after_days: float = Field(5.0, ge=0, le=365)
    # Fernet keys, comma-separated: the first encrypts webhook signing secrets at rest, every
    # one decrypts. To change keys: new one first, `byline webhooks seal-secrets`, then drop
    # the old one (docs/WEBHOOKS.md). Unset: secrets are stored as they are.
    secret_keys: Annotated[list[SecretStr], NoDecode] = []

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        async_database_url(value)
        return value

    @field_validator("metrics_dir", mode="before")
    @classmethod
    def _no_empty_dir(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_read_url")
    @classmethod
    def _known_read_driver(cls, value: str | None) -> str | None:
        if value is not None and value.strip() == "":
            return None  # an empty variable means "no replica", as unset does
        if value is not None:
            async_database_url(value)
        return value

    @field_validator("anonymous_rate_limit", "key_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if value.strip().lower() in ("none", ""):
            return "none"
        if not RATE_LIMIT.match(value):
            raise ValueError("must be N/second, N/minute, N/hour, N/day or none")
        return value.strip()

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("secret_keys")
    @classmethod
    def _fernet_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for number, key in enumerate(value, start=1):
            try:
                Fernet(key.get_secret_value())
            except ValueError:
                # The key itself is never echoed: the message says which one, not what it is.
                raise ValueError(
                    f"key {number} is not a Fernet key (32 url-safe base64-encoded bytes)"
                ) from None
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _staleness_within_max_age(self) -> Settings:
        # A cached read may lag a write by one poll interval; the responses promise
        # that it is never older than max-age, so the interval must fit inside it.
        if self.cache_poll_interval > self.cache_max_age:
            raise ValueError("BYLINE_CACHE_POLL_INTERVAL must not exceed BYLINE_CACHE_MAX_AGE")
        return self

    @model_validator(mode="after")
    def _replica_of_the_same_kind(self) -> Settings:
        # One search index and one SQL dialect serve both: a replica is a copy of the primary.
        read = self.database_read_url
        if read is not None and _backend(read) != _backend(self.database_url):
            raise ValueError("BYLINE_DATABASE_READ_URL must be the same kind of database")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Settings:
        # A claim is held for the lease; a delivery still running when it ends could be
        # claimed and sent a second time by another worker.
        if self.webhook_lease_seconds <= 2 * self.webhook_timeout_seconds:
            raise ValueError(
                "BYLINE_WEBHOOK_LEASE_SECONDS must exceed twice BYLINE_WEBHOOK_TIMEOUT_SECONDS"
            )
        return self

    @property
    def async_database_url(self) -> str:
        return async_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
