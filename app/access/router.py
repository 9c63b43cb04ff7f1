"""/v1/keys: keys are managed by admin keys; any key can see itself at /v1/keys/me."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.access import service
from app.access.deps import AdminKey, AnyKey
from app.access.schemas import KeyCreate, KeyCreated, KeyList, KeyMe, KeyRead
from app.core.deps import AppSettings, Now, Session, WriteSession
from app.core.http import PRIVATE_CACHE_CONTROL

router = APIRouter(prefix="/v1/keys", tags=["keys"])
PROBLEMS: dict[int | str, dict[str, object]] = {
    401: {"description": "No or unknown key"},
    403: {"description": "Missing scope"},
}


@router.post(
    "",
    operation_id="createKey",
    status_code=201,
    response_model=KeyCreated,
    responses={**PROBLEMS, 409: {"description": "Name taken"}},
)
async def create_key(
    body: KeyCreate, session: WriteSession, now: Now, response: Response, _: AdminKey
) -> KeyCreated:
    """Create a key; its secret is in this response only."""
    key, secret = await service.create(
        session, name=body.name, scopes=body.scopes, categories=body.categories,
        rate_limit=body.rate_limit, now=now,
    )  # fmt: skip
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    response.headers["Location"] = f"/v1/keys/{key.id}"
    return KeyCreated(**KeyRead.model_validate(key).model_dump(), key=secret)


@router.get("", operation_id="listKeys", response_model=KeyList, responses=PROBLEMS)
async def list_keys(session: Session, response: Response, _: AdminKey) -> KeyList:
    """Every key (without secrets), revoked ones included."""
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    return KeyList(data=[KeyRead.model_validate(k) for k in await service.list_keys(session)])


@router.get("/me", operation_id="getOwnKey", response_model=KeyMe, responses={401: PROBLEMS[401]})
async def get_own_key(
    request: Request, session: Session, settings: AppSettings, response: Response, key: AnyKey
) -> KeyMe:
    """The calling key: name, scopes, categories, limit and today's request count."""
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    used = await request.app.state.usage.today(session, key.id)
    categories = list(key.categories) if key.categories is not None else None
    limit = key.rate_limit or settings.key_rate_limit
    return KeyMe(
        id=key.id,
        name=key.name,
        scopes=sorted(key.scopes),
        categories=categories,
        rate_limit=limit,
        usage_today=used,
    )


@router.get(
    "/{key_id}",
    operation_id="getKey",
    response_model=KeyRead,
    responses={**PROBLEMS, 404: {"description": "Unknown key"}},
)
async def get_key(key_id: str, session: Session, response: Response, _: AdminKey) -> KeyRead:
    """One key by id or name (without its secret)."""
    response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
    return KeyRead.model_validate(await service.get(session, key_id))


@router.delete(
    "/{key_id}",
    operation_id="revokeKey",
    status_code=204,
    responses={**PROBLEMS, 404: {"description": "Unknown key"}},
)
async def revoke_key(
    key_id: str, request: Request, session: WriteSession, now: Now, _: AdminKey
) -> Response:
    """Revoke a key by id or name; it stops working at once here, within seconds elsewhere."""
    key = await service.revoke(session, key_id, now)
    request.app.state.keys.forget(key.id)
    return Response(status_code=204)
