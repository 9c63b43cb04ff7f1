"""One error hierarchy, rendered once as RFC 9457 problem details."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope, Send

PROBLEM_BASE = "https://byline.dev/problems/"
PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("byline.errors")


class AppError(Exception):
    """A failure a client can act on; services raise these and never know HTTP."""

    status = 400
    slug = "bad-request"
    title = "Bad request"
    headers: dict[str, str] = {}

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Gone(AppError):
    status, slug, title = 410, "gone", "Gone"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="byline"'}


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Forbidden"


class PreconditionFailed(AppError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(AppError):
    status, slug, title = 428, "precondition-required", "Precondition required"


class ServiceBusy(AppError):
    status, slug, title = 503, "busy", "Service busy"


class InvalidInput(AppError):
    """Bad input in a known field; `errors` names each field at fault."""

    status, slug, title = 422, "validation-error", "Invalid input"

    def __init__(self, detail: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail, extra={"errors": errors})


def invalid_param(name: str, msg: str, *, where: str = "query") -> InvalidInput:
    return InvalidInput(f"{name}: {msg}", [{"loc": [where, name], "msg": msg}])


STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
    428: ("precondition-required", "Precondition required"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
    500: ("internal-error", "Internal server error"),
}


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    default_slug, default_title = STATUS_SLUGS.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extra or {})
    # Never cached: a 404 for an article published a minute later must not stick in a CDN.
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_JSON)


async def send_problem(
    scope: Scope, send: Send, status: int, detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:  # fmt: skip
    """A problem response from pure ASGI middleware, which runs outside the error handlers."""
    slug, title = STATUS_SLUGS.get(status, ("error", "Error"))
    body = orjson.dumps(
        {
            "type": PROBLEM_BASE + slug,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope["path"],
        }
    )
    raw = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _clean_loc(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return problem_response(
        request,
        exc.status,
        exc.detail,
        slug=exc.slug,
        title=exc.title,
        extra=exc.extra,
        headers=dict(exc.headers),
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": _clean_loc(e["loc"]), "msg": str(e["msg"])} for e in exc.errors()]
    names = ", ".join(".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]) for e in errors)
    return problem_response(request, 422, f"Invalid input: {names}", extra={"errors": errors})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = (
        exc.detail
        if isinstance(exc.detail, str)
        else STATUS_SLUGS.get(exc.status_code, ("", "Error"))[1]
    )
    return problem_response(request, exc.status_code, detail, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.exception("unhandled error", extra={"request_id": request_id})
    # The server-error handler runs outside the request-id middleware: add the header here.
    return problem_response(
        request,
        500,
        f"An unexpected error occurred (request id {request_id}).",
        extra={"request_id": request_id},
        headers={"X-Request-ID": request_id},
    )


async def _integrity(request: Request, exc: Exception) -> Response:
    return problem_response(
        request, 409, "The change conflicts with data written at the same time; retry."
    )


async def _database_busy(request: Request, exc: Exception) -> Response:
    # Lock waits that outlast busy_timeout, or a database that went away: retryable.
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem_response(
        request,
        503,
        "The database is busy or unavailable; retry shortly.",
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(InterfaceError, _database_busy)
    app.add_exception_handler(Exception, _unexpected)
