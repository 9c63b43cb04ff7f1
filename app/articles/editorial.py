"""The v1 write API (scope `write`): create, replace, patch, publish, retract, delete, correct."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Header, Path, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict
from starlette.responses import Response

from app.access.deps import WriteKey
from app.articles import editing
from app.articles.editing import WriteContext
from app.articles.readmodel import (
    ArticleView,
    etag_of,
    full_face,
    iso_time,
    revision_face,
    tombstone_face,
)
from app.articles.schemas import (
    ArticleCreate,
    ArticleRead,
    ArticleReplace,
    AwareDatetime,
    Text,
    Tombstone,
)
from app.core import idempotency
from app.core.deps import AppSettings, Now, Session, WriteSession
from app.core.errors import InvalidInput, UnsupportedMediaType
from app.core.http import PRIVATE_CACHE_CONTROL, json_bytes

router = APIRouter(prefix="/v1", tags=["editorial"])
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (401, 403, 404, 409, 410, 412, 413, 415, 422, 428), PROBLEM
)

IfMatch = Annotated[str | None, Header(description='The ETag you last read, e.g. "art_….3"')]
IdempotencyKey = Annotated[str | None, Header(max_length=255, description="Repeat a create safely")]


class PublishInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = None


class RetractInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


class DeleteInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text | None = None


class CorrectionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text


class RevisionSummary(BaseModel):
    revision: int
    created_at: dt.datetime
    event: str | None
    links: dict[str, str]


class RevisionList(BaseModel):
    data: list[RevisionSummary]


def _context(request: Request, now: dt.datetime) -> WriteContext:
    return WriteContext(now, request.app.state.settings, request.app.state.search)


def _forget(request: Request, view: ArticleView) -> ArticleView:
    """Drop the article from this server's cache at once; other servers follow the change log."""
    request.app.state.read_cache.evict(view.id)
    return view


def _article_response(
    view: ArticleView, settings: Any, now: dt.datetime, status: int = 200
) -> Response:
    body = json_bytes(full_face(view, settings.public_base_url, now))
    headers = {"ETag": etag_of(view, now), "Cache-Control": PRIVATE_CACHE_CONTROL}
    if status == 201:
        headers["Location"] = f"/v1/articles/{view.id}"
    return Response(body, status, headers=headers, media_type="application/json")


@router.post(
    "/articles",
    operation_id="createArticle",
    status_code=201,
    response_model=ArticleRead,
    responses=WRITE_ERRORS,
)
async def create_article(
    request: Request, data: ArticleCreate, session: WriteSession, settings: AppSettings, now: Now,
    key: WriteKey, idempotency_key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    """Create an article (a draft unless `status` is `published`); honours Idempotency-Key."""
    if idempotency_key is None:
        view = await editing.create(session, data, _context(request, now))
        return _article_response(view, settings, now, 201)
    fingerprint = idempotency.request_fingerprint(
        "POST", "/v1/articles", data.model_dump(mode="json")
    )
    stored = await idempotency.begin(session, key.id, idempotency_key, fingerprint, now)
    if stored is not None:
        return _replay(stored)
    view = await editing.create(session, data, _context(request, now))
    response = _article_response(view, settings, now, 201)
    await idempotency.complete(
        session,
        key.id,
        idempotency_key,
        idempotency.StoredResponse(201, bytes(response.body), response.headers["location"]),
    )
    return response


def _replay(stored: idempotency.StoredResponse) -> Response:
    """The stored answer to a repeated create, with the headers the first one had."""
    # The stored body is that 201's article, and its ETag is a function of it (id, revision).
    article = orjson.loads(stored.body)
    embargoed = ".embargoed" if article["status"] == "scheduled" else ""  # as etag_of gave it
    headers = {
        "ETag": f'"{article["id"]}.{article["revision"]}{embargoed}"',
        "Cache-Control": PRIVATE_CACHE_CONTROL,
        "Idempotent-Replayed": "true",
    }
    if stored.location:
        headers["Location"] = stored.location
    return Response(stored.body, stored.status, headers=headers, media_type="application/json")


@router.put(
    "/articles/{key}",
    operation_id="replaceArticle",
    response_model=ArticleRead,
    responses=WRITE_ERRORS,
)
async def replace_article(
    key: str, request: Request, data: ArticleReplace, session: WriteSession, settings: AppSettings,
    now: Now, _: WriteKey, if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Replace an article's content; needs If-Match (428 without, 412 if stale).

    The body may be the article as GET gave it, edited: its read-only fields (`url`,
    `revision`, `links`...) are ignored, `id` must be this article's and `status` its
    current one."""
    ctx = _context(request, now)
    updated = await editing.update(session, key, data, if_match, ctx, if_match_required=True)
    view = _forget(request, updated)
    return _article_response(view, settings, now)


@router.patch(
    "/articles/{key}", operation_id="patchArticle", response_model=ArticleRead, responses=WRITE_ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {"application/merge-patch+json": {"schema": {"type": "object"}}, "application/json": {"schema": {"type": "object"}}}}},
)  # fmt: skip
async def patch_article(
    key: str, request: Request, session: WriteSession, settings: AppSettings, now: Now,
    _: WriteKey, if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Change an article with a JSON Merge Patch (RFC 7396); needs If-Match."""
    _merge_patch_only(request)
    changes = await _json_object(request)
    ctx = _context(request, now)
    patched = await editing.patch(session, key, changes, if_match, ctx, if_match_required=True)
    view = _forget(request, patched)
    return _article_response(view, settings, now)


MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/json")


def _merge_patch_only(request: Request) -> None:
    """A JSON Patch (RFC 6902) or any other patch format is a 415 naming the one we take
    (RFC 5789 section 2.2), not a merge patch that happens to be invalid."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in MERGE_PATCH_TYPES:
        raise NotAMergePatch(
            f"Send a JSON Merge Patch (RFC 7396) as {MERGE_PATCH_TYPES[0]}, not {media or 'no type'}."
        )


class NotAMergePatch(UnsupportedMediaType):
    headers = {"Accept-Patch": MERGE_PATCH_TYPES[0]}


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        value = await request.json()
    except Exception:  # any decoding failure is the client's malformed JSON
        raise _bad_body("is not valid JSON") from None
    if not isinstance(value, dict):
        raise _bad_body("a merge patch must be a JSON object")
    return value


def _bad_body(msg: str) -> InvalidInput:
    return InvalidInput(f"body: {msg}", [{"loc": ["body"], "msg": msg}])


@router.post(
    "/articles/{key}/publish",
    operation_id="publishArticle",
    response_model=ArticleRead,
    responses=WRITE_ERRORS,
)
async def publish_article(
    key: str, request: Request, session: WriteSession, settings: AppSettings, now: Now, _: WriteKey,
    body: Annotated[PublishInput | None, Body()] = None, if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Publish now, or at `at` (scheduled: invisible to readers until then)."""
    at = body.at if body else None
    view = _forget(
        request, await editing.publish(session, key, at, if_match, _context(request, now))
    )
    return _article_response(view, settings, now)


@router.post(
    "/articles/{key}/unpublish",
    operation_id="unpublishArticle",
    response_model=ArticleRead,
    responses=WRITE_ERRORS,
)
async def unpublish_article(
    key: str,
    request: Request,
    session: WriteSession,
    settings: AppSettings,
    now: Now,
    _: WriteKey,
    if_match: IfMatch = None,
) -> Response:
    """Take an article back to draft."""
    view = _forget(request, await editing.unpublish(session, key, if_match, _context(request, now)))
    return _article_response(view, settings, now)


@router.post(
    "/articles/{key}/retract",
    operation_id="retractArticle",
    response_model=Tombstone,
    responses=WRITE_ERRORS,
)
async def retract_article(
    key: str, request: Request, body: RetractInput, session: WriteSession, now: Now, _: WriteKey, if_match: IfMatch = None
) -> Response:  # fmt: skip
    """Retract a published article; readers get 410 with this tombstone."""
    view = _forget(
        request, await editing.retract(session, key, body.reason, if_match, _context(request, now))
    )
    return Response(
        json_bytes(tombstone_face(view)),
        headers={"Cache-Control": PRIVATE_CACHE_CONTROL},
        media_type="application/json",
    )


@router.delete(
    "/articles/{key}", operation_id="deleteArticle", status_code=204, responses=WRITE_ERRORS
)
async def delete_article(
    key: str, request: Request, session: WriteSession, now: Now, _: WriteKey,
    body: Annotated[DeleteInput | None, Body()] = None, if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Delete an article; readers and partners see a tombstone."""
    deleted = await editing.delete(
        session, key, body.reason if body else None, if_match, _context(request, now)
    )
    _forget(request, deleted)  # else this server's fast lane would answer 200 for a second
    return Response(status_code=204)


@router.post(
    "/articles/{key}/corrections",
    operation_id="correctArticle",
    response_model=ArticleRead,
    responses=WRITE_ERRORS,
)
async def correct_article(
    key: str, request: Request, body: CorrectionInput, session: WriteSession, settings: AppSettings,
    now: Now, _: WriteKey, if_match: IfMatch = None,
) -> Response:  # fmt: skip
    """Append a correction (revision + 1)."""
    view = _forget(
        request, await editing.correct(session, key, body.text, if_match, _context(request, now))
    )
    return _article_response(view, settings, now)


@router.get(
    "/articles/{key}/revisions",
    operation_id="listRevisions",
    response_model=RevisionList,
    responses=WRITE_ERRORS,
)
async def list_revisions(
    key: str, session: Session, settings: AppSettings, _: WriteKey
) -> Response:
    """Every revision of an article, oldest first."""
    view, infos = await editing.revisions(session, key)
    base = f"{settings.public_base_url}/v1/articles/{view.id}/revisions"
    data = [
        {
            "revision": r.number,
            "created_at": iso_time(r.created_at),
            "event": r.event,
            "links": {"self": f"{base}/{r.number}"},
        }
        for r in infos
    ]
    return Response(
        json_bytes({"data": data}),
        headers={"Cache-Control": PRIVATE_CACHE_CONTROL},
        media_type="application/json",
    )


def _canonical_number(value: object) -> object:
    """A revision number as written in its links: "1.0", "01" or "+1" name no revision."""
    if isinstance(value, str) and not REVISION_NUMBER.fullmatch(value):
        raise ValueError("must be a revision number written as a whole number, e.g. 3")
    return value


REVISION_NUMBER = re.compile(r"0|[1-9][0-9]{0,8}", re.ASCII)
RevisionNumber = Annotated[int, BeforeValidator(_canonical_number), Path()]


@router.get(
    "/articles/{key}/revisions/{number}", operation_id="getRevision", responses=WRITE_ERRORS
)
async def get_revision(
    key: str, number: RevisionNumber, session: Session, settings: AppSettings, _: WriteKey
) -> Response:
    """One revision as it was, in the full representation (`url` and `links` as configured now)."""
    snapshot = await editing.revision(session, key, number)
    return Response(
        json_bytes(revision_face(snapshot, settings.public_base_url)),
        headers={"Cache-Control": PRIVATE_CACHE_CONTROL},
        media_type="application/json",
    )
