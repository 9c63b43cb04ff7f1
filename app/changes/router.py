"""/v1/changes (the change feed, long-polling with `wait`) and /v1/export (NDJSON), for partners."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive

from app.access.deps import CurrentKey, bearer
from app.changes import export, service
from app.changes.notifier import ChangeNotifier
from app.changes.schemas import ChangeFeedPage
from app.core.deps import AppSettings, Now
from app.core.errors import invalid_param
from app.core.http import PRIVATE_CACHE_CONTROL, given_once, json_bytes
from app.core.middleware import is_head

# Every parameter of these routes has one value (app/core/http.py given_once).
router = APIRouter(
    prefix="/v1", tags=["syndication"], dependencies=[Depends(given_once("since", "limit", "wait"))]
)
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
FEED_ERRORS: dict[int | str, dict[str, Any]] = dict.fromkeys((401, 422), PROBLEM)
CURSOR_HEADER = "Byline-Change-Cursor"
CLIENT_GONE = 499  # never sent: the client hung up while waiting (nginx's code, for the logs)
T = TypeVar("T")


def _reader() -> Callable[..., Coroutine[Any, Any, service.Reader]]:
    async def check(
        key: CurrentKey, _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
    ) -> service.Reader:
        # Published content needs no key (API.md section 3): without one, or with a key that
        # cannot write, the caller reads as a partner with every category.
        return service.Reader.of(key) if key is not None else PUBLIC_READER

    return check


PUBLIC_READER = service.Reader(editor=False, categories=None)
FeedReader = Annotated[service.Reader, Depends(_reader())]


@router.get(
    "/changes", operation_id="listChanges", response_model=ChangeFeedPage, responses=FEED_ERRORS
)
async def list_changes(
    request: Request,
    reader: FeedReader,
    since: Annotated[
        str | None,
        Query(max_length=40, description="A `next_cursor` you were sent; absent or 0: the start"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    wait: Annotated[
        float, Query(ge=0, le=30, description="Seconds to hold the request until an event comes")
    ] = 0,
) -> Response:
    """The change log for delta sync, oldest first after a cursor; `wait` long-polls."""
    after = service.parse_cursor(since)
    notifier: ChangeNotifier = request.app.state.change_notifier
    work = notifier.follow(reader, after, limit, wait)
    found = await work if wait <= 0 else await _unless_disconnected(request.receive, work)
    if found is None:
        return Response(status_code=CLIENT_GONE)
    # Nothing new: the cursor exactly as it was sent (API.md section 9), not re-spelled.
    sent = since.strip() if since is not None else "0"
    cursor = str(found.events[-1].entry.seq) if found.events else sent
    body = {"data": [event.face() for event in found.events], "meta": {"next_cursor": cursor}}
    return Response(
        json_bytes(body),
        headers={"Cache-Control": PRIVATE_CACHE_CONTROL},
        media_type="application/json",
    )


async def _unless_disconnected(receive: Receive, work: Coroutine[Any, Any, T]) -> T | None:
    """Run `work` until it ends, or cancel it (None) as soon as the client hangs up."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnect(receive))
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return None if task.cancelled() else task.result()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


NDJSON: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One article per line, as `GET /v1/articles/{id}` gives it to this key. "
        f"The `{CURSOR_HEADER}` header is the change-feed cursor taken before the export began.",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        "headers": {CURSOR_HEADER: {"schema": {"type": "string"}}},
    },
    **FEED_ERRORS,
}


@router.get(
    "/export",
    operation_id="exportArticles",
    response_class=StreamingResponse,
    responses=NDJSON,
)
async def export_articles(
    request: Request,
    reader: FeedReader,
    settings: AppSettings,
    now: Now,
    since: Annotated[
        str | None, Query(max_length=64, description="RFC 3339: only articles updated since")
    ] = None,
) -> StreamingResponse:
    """Every article the key may see, as NDJSON, least recently updated first."""
    query = export.ExportQuery(reader, _instant(since), now, settings.public_base_url)
    notifier: ChangeNotifier = request.app.state.change_notifier
    cursor = await notifier.cursor()  # taken before the export reads anything
    # A HEAD gets the GET's headers without the export being read (it would be dropped).
    lines = (
        _nothing() if is_head(request.scope) else export.lines(request.app.state.sessions, query)
    )
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Cache-Control": PRIVATE_CACHE_CONTROL, CURSOR_HEADER: str(cursor)},
    )


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an async generator that yields nothing


def _instant(raw: str | None) -> dt.datetime | None:
    """An RFC 3339 date-time or a YYYY-MM-DD date (midnight UTC); a naive time is UTC.

    The instant comes back in UTC, as the database compares it: one the UTC calendar
    cannot hold (year 1 east of Greenwich, year 9999 west of it) is a 422 here, before
    the stream has sent anything.
    """
    if raw is None:
        return None
    # An unencoded "+" in a query string arrives as a space: "...T09:00:00 02:00".
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", raw.strip().replace("z", "Z"))
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise invalid_param("since", "must be an RFC 3339 date-time or a YYYY-MM-DD date") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise invalid_param("since", "must be an instant between years 1 and 9999 in UTC") from None
