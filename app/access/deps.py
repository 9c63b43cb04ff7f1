"""The calling key as a dependency, and scope checks that every protected route declares."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.access.service import KeyInfo
from app.core.errors import Forbidden, Unauthorized

# Documents the scheme in OpenAPI; AccessMiddleware has already checked the key.
bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer byl_...`")


async def _current_key(request: Request) -> KeyInfo | None:
    key: KeyInfo | None = request.scope.get("state", {}).get("api_key")
    return key


CurrentKey = Annotated[KeyInfo | None, Depends(_current_key)]


def require_scope(scope: str) -> Callable[..., Coroutine[Any, Any, KeyInfo]]:
    """A dependency that yields the key, or fails with 401 (no key) or 403 (scope missing)."""

    async def check(
        key: CurrentKey, _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
    ) -> KeyInfo:
        if key is None:
            raise Unauthorized(f"This needs an API key with the {scope!r} scope.")
        if scope not in key.scopes:
            raise Forbidden(f"The key {key.name!r} lacks the {scope!r} scope.")
        return key

    return check


def any_key() -> Callable[..., Coroutine[Any, Any, KeyInfo]]:
    async def check(
        key: CurrentKey, _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
    ) -> KeyInfo:
        if key is None:
            raise Unauthorized("This needs an API key.")
        return key

    return check


AnyKey = Annotated[KeyInfo, Depends(any_key())]
WriteKey = Annotated[KeyInfo, Depends(require_scope("write"))]
AdminKey = Annotated[KeyInfo, Depends(require_scope("admin"))]
