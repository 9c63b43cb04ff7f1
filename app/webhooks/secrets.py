"""Webhook signing secrets at rest: encrypted with Fernet when `BYLINE_SECRET_KEYS` is set.

Signing (HMAC) needs the secret itself, so it cannot be stored as a hash like an API key;
encrypting it means a copy of the database alone does not let anyone sign as Byline. A
stored value is either `fernet:<token>` or, without keys (or from before they were set),
the secret as it is; `byline webhooks seal-secrets` encrypts the latter and re-encrypts
older tokens with the first key.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.core.config import Settings

SEALED = "fernet:"


class SecretUnavailable(Exception):
    """A stored secret that none of the configured keys can decrypt."""


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys]) if keys else None

    def seal(self, secret: str) -> str:
        """What to store for `secret`: encrypted with the first key, or as it is without keys."""
        if self._fernet is None:
            return secret
        return SEALED + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret a stored value holds."""
        if not stored.startswith(SEALED):
            return stored
        if self._fernet is None:
            raise SecretUnavailable("the secret is encrypted and BYLINE_SECRET_KEYS is not set")
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED).encode()).decode()
        except InvalidToken:
            raise SecretUnavailable("no key in BYLINE_SECRET_KEYS decrypts the secret") from None

    def reseal(self, stored: str) -> str:
        """The stored value as the first key would write it now (unchanged without keys)."""
        if self._fernet is None:
            return stored
        if not stored.startswith(SEALED):
            return self.seal(stored)
        try:
            token = self._fernet.rotate(stored.removeprefix(SEALED).encode())
        except InvalidToken:
            raise SecretUnavailable("no key in BYLINE_SECRET_KEYS decrypts the secret") from None
        return SEALED + token.decode()


@lru_cache(maxsize=8)
def secret_box(keys: tuple[str, ...]) -> SecretBox:
    """One box per set of keys (building Fernet objects parses every key)."""
    return SecretBox(keys)


def box_of(settings: Settings) -> SecretBox:
    return secret_box(tuple(key.get_secret_value() for key in settings.secret_keys))
