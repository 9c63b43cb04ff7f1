"""The calling key as a dependency, and scope checks that every protected route declares."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.access.service import KeyInfo
from app.core.errors import AppError, Forbidden, Unauthorized, checks_access

# Documents the scheme in OpenAPI; AccessMiddleware has already checked the key.
bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer byl_...`")


def _key_of(request: Request) -> KeyInfo | None:
    key: KeyInfo | None = request.scope.get("state", {}).get("api_key")
    return key


async def _current_key(request: Request) -> KeyInfo | None:
    return _key_of(request)


CurrentKey = Annotated[KeyInfo | None, Depends(_current_key)]


def refusal(key: KeyInfo | None, scope: str | None) -> AppError | None:
    """401 without a key, 403 when the key lacks `scope` (None: any key will do)."""
    if key is None:
        needed = f"an API key with the {scope!r} scope" if scope else "an API key"
        return Unauthorized(f"This needs {needed}.")
    if scope is not None and scope not in key.scopes:
        return Forbidden(f"The key {key.name!r} lacks the {scope!r} scope.")
    return None


def require_scope(scope: str | None) -> Callable[..., Coroutine[Any, Any, KeyInfo]]:
    """A dependency that yields the key, or fails with 401 (no key) or 403 (scope missing).

    It is marked as an access check, so that a request it refuses is refused even when its
    body cannot be decoded (app/core/errors.py: FastAPI decodes before any dependency).
    """

    @checks_access(lambda request: refusal(_key_of(request), scope))
    async def check(
        key: CurrentKey, _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
    ) -> KeyInfo:
        refused = refusal(key, scope)
        if refused is not None:
            raise refused
        assert key is not None  # refusal() refuses a missing key
        return key

    return check


def any_key() -> Callable[..., Coroutine[Any, Any, KeyInfo]]:
    return require_scope(None)


AnyKey = Annotated[KeyInfo, Depends(any_key())]
WriteKey = Annotated[KeyInfo, Depends(require_scope("write"))]
AdminKey = Annotated[KeyInfo, Depends(require_scope("admin"))]
