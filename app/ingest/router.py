"""POST /v1/imports: any import format by Content-Type (scope `write`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Request
from pydantic import WithJsonSchema
from starlette.responses import Response

from app.access.deps import WriteKey
from app.articles.readmodel import full_face
from app.core.deps import AppSettings, Now, WriteSession
from app.core.errors import InvalidInput
from app.core.http import PRIVATE_CACHE_CONTROL, json_bytes
from app.ingest import service
from app.ingest.errors import ImportFormatError
from app.ingest.formats import (
    MEDIA_TYPES,
    Format,
    UnsupportedFormat,
    detect_format,
    parse_document,
)
from app.ingest.years import YEAR_MAX, YEAR_MIN

router = APIRouter(prefix="/v1", tags=["editorial"])
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
StatusParam = Literal["draft", "published"]
# A query parameter is given or left out, never null: describe it as the string it is.
STATUS_SCHEMA = WithJsonSchema({"type": "string", "enum": list(get_args(StatusParam))})
STATUS_DOC = (
    "draft or published; wins over the document's own status. Omitted: the document's "
    "status, else the existing article's (a re-import keeps it), else draft."
)
BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {media: {"schema": {"type": "string"}} for media in MEDIA_TYPES},
    }
}


@router.post(
    "/imports", operation_id="importArticles", status_code=201, openapi_extra=BODY_DOC,
    responses={207: {"description": "NDJSON: one result per line"}, **dict.fromkeys((401, 403, 413, 415, 422), PROBLEM)},
)  # fmt: skip
async def import_articles(
    request: Request, session: WriteSession, settings: AppSettings, now: Now, _: WriteKey,
    status: Annotated[StatusParam | None, STATUS_SCHEMA, Query(description=STATUS_DOC)] = None,
    year: Annotated[int | None, Query(ge=YEAR_MIN, le=YEAR_MAX)] = None,
) -> Response:  # fmt: skip
    """Import one document (201 with its article) or NDJSON (207, one result per line).

    A document whose slug (given, or made from its headline) belongs to an article updates
    that article: a new revision with the document's content, only if something changed.
    The status is the `status` parameter if given, else the document's own `"status"`
    (JSON and NDJSON), else the article's current one: a re-import alone never publishes
    or unpublishes. A new article is a draft unless the parameter or the document says
    `published`. A document without a publication time keeps the article's. A slug that
    belongs to a retracted or deleted article is a 409 (an NDJSON line: a 409 result),
    and nothing changes.
    """
    fmt = _format(request.headers.get("content-type"))
    text = _text(await request.body())
    index = request.app.state.search
    if fmt is Format.NDJSON:
        results = await service.import_lines(
            session, text, status=status, settings=settings, index=index, now=now
        )
        _forget(request, [r["id"] for r in results if "id" in r])
        return _json({"data": results}, 207)
    try:
        data = parse_document(text, fmt, year=year, now=now)
    except ImportFormatError as exc:
        raise InvalidInput(
            f"The document is malformed: {exc}",
            [{"loc": e.loc, "msg": e.message} for e in exc.all()],
        ) from None
    result = await service.store(
        session, data, status=status, settings=settings, index=index, now=now
    )
    _forget(request, [result.view.id])
    return _json({"data": [full_face(result.view, settings.public_base_url, now)]}, 201)


def _format(content_type: str | None) -> Format:
    try:
        return detect_format(content_type=content_type)
    except UnsupportedFormat as exc:
        raise InvalidInput(
            str(exc), [{"loc": ["header", "Content-Type"], "msg": str(exc)}]
        ) from None


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            "The body is not UTF-8 text.", [{"loc": ["body"], "msg": "not UTF-8"}]
        ) from None


def _json(data: Any, status: int) -> Response:
    return Response(
        json_bytes(data),
        status,
        headers={"Cache-Control": PRIVATE_CACHE_CONTROL},
        media_type="application/json",
    )


def _forget(request: Request, article_ids: list[str]) -> None:
    """A re-import changes an article: this server's read cache drops it at once (others
    follow the change log), so a read right after the import sees the new revision."""
    for article_id in article_ids:
        request.app.state.read_cache.evict(article_id)
