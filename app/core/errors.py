"""One error hierarchy, rendered once as RFC 9457 problem details."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope, Send

from app.core.routing import allowed_methods, slash_redirect

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


class Moved(AppError):
    """The resource is now named `new` where the request said `old` (an article whose
    slug an editor changed): a 301 to the same path with that one segment replaced."""

    status, slug, title = 301, "moved", "Moved permanently"

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"{old!r} is now {new!r}.", extra={"moved_to": new})
        self.old, self.new = old, new


# How routes that may raise Moved document it in OpenAPI.
MOVED_RESPONSE: dict[str, Any] = {
    "content": {"application/problem+json": {}},
    "description": "The slug was changed: `Location` names the same path under the current "
    "slug (`moved_to`)",
}


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


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


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


MAX_ERRORS = 50  # a problem lists at most this many `errors`, and says how many there were


def _bounded(detail: str, extra: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The detail and extra members with `errors` cut to MAX_ERRORS: a body with thousands
    of bad keys must not make a problem document megabytes long."""
    errors = extra.get("errors")
    if not isinstance(errors, list) or len(errors) <= MAX_ERRORS:
        return detail, extra
    note = f" ({len(errors)} errors in all; the first {MAX_ERRORS} are listed)"
    return detail + note, {**extra, "errors": errors[:MAX_ERRORS]}


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
    detail, extra = _bounded(detail, extra or {})
    body = problem_body(status, detail, request.url.path, extra, slug=slug, title=title)
    # Never cached: a 404 for an article published a minute later must not stick in a CDN.
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return Response(body, status, headers=headers, media_type=PROBLEM_JSON)


def problem_body(
    status: int, detail: str, instance: str, extra: dict[str, Any] | None = None, *,
    slug: str | None = None, title: str | None = None,
) -> bytes:  # fmt: skip
    """The RFC 9457 document every error answer carries, encoded HTML-safe."""
    default_slug, default_title = STATUS_SLUGS.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **(extra or {}),
    }
    return html_safe_json(body)


def html_safe_json(value: Any) -> bytes:
    """JSON with `<`, `>` and `&` escaped: a problem echoes client text (the path, a slug),
    and a client that shows it in a page must not be handed markup."""
    encoded = orjson.dumps(value)
    return encoded.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


async def send_problem(
    scope: Scope, send: Send, status: int, detail: str,
    headers: list[tuple[bytes, bytes]] | None = None, errors: list[dict[str, Any]] | None = None,
) -> None:  # fmt: skip
    """A problem response from pure ASGI middleware, which runs outside the error handlers."""
    body = problem_body(
        status, detail, scope["path"], None if errors is None else {"errors": errors}
    )
    raw = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# Pydantic puts the branch of a union it tried into `loc` ("constrained-str",
# "function-after[_slug_or_name(), NamedRef]", "NamedRef"): clients name fields, not the
# types a field is parsed with.
_BRANCH_TAG = re.compile(
    r"[a-z]+(?:-[a-z]+)*\[.*\]|constrained-[a-z]+|str|int|float|bool|bytes|none|[A-Z][A-Za-z0-9]*",
    re.DOTALL,
)
_KEY_ERRORS = frozenset({"extra_forbidden", "missing"})  # their last part is the client's key


def _clean_loc(loc: Sequence[Any], error_type: str = "") -> list[str | int]:
    """A validation error's location as the client wrote it, without union-branch tags."""
    key = len(loc) - 1 if error_type in _KEY_ERRORS else None
    return [
        part if isinstance(part, int) else str(part)
        for i, part in enumerate(loc)
        if isinstance(part, int) or i == key or not _BRANCH_TAG.fullmatch(str(part))
    ]


def message_of(detail: Mapping[str, Any]) -> str:
    """A pydantic error's message; our own validators' read as written, without its label."""
    return str(detail["msg"]).removeprefix("Value error, ")


def client_errors(
    details: Sequence[Mapping[str, Any]], prefix: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Pydantic errors as `[{loc, msg}]` in the client's terms.

    Union-branch tags leave `loc`; a branch that merely found the wrong type ("should be
    a valid string") goes when another branch explains more deeply (`category.slug`);
    repeats go.
    """
    found = []
    for detail in details:
        if detail.get("type") == "json_invalid":  # its loc is ("body", <character offset>)
            where = detail["loc"][-1]
            msg = f"is not valid JSON: {detail.get('ctx', {}).get('error', 'malformed')}"
            found.append(([*prefix, detail["loc"][0]], f"{msg} (at character {where})", False))
            continue
        raw = [*prefix, *detail["loc"]]
        loc = _clean_loc(raw, detail.get("type", ""))
        mismatch = len(loc) < len(raw) and str(detail.get("type", "")).endswith("_type")
        found.append((loc, message_of(detail), mismatch))
    # Every location some error lies strictly inside: a set, so that a body with many
    # errors costs a lookup per error rather than a scan of all the others.
    deeper = {tuple(loc[:end]) for loc, _, _ in found for end in range(len(loc))}
    kept: dict[str, dict[str, Any]] = {}
    for loc, msg, mismatch in found:
        if mismatch and tuple(loc) in deeper:
            continue
        kept.setdefault(orjson.dumps([loc, msg]).decode(), {"loc": loc, "msg": msg})
    return list(kept.values())


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    headers = dict(exc.headers)
    if isinstance(exc, Moved):
        headers["Location"] = _moved_location(request, exc)
    return problem_response(
        request,
        exc.status,
        exc.detail,
        slug=exc.slug,
        title=exc.title,
        extra=exc.extra,
        headers=headers,
    )


def _moved_location(request: Request, exc: Moved) -> str:
    """The request's route and query with the path parameter that named the old name
    replaced (by parameter, not by text: a slug may read like another segment, `articles`)."""
    route = request.scope.get("route")
    params = {
        name: exc.new if value == exc.old else value for name, value in request.path_params.items()
    }
    name = getattr(route, "name", None)
    path = str(request.app.url_path_for(name, **params)) if name else request.url.path
    query = request.url.query
    return path + (f"?{query}" if query else "")


# ---- access checks come before input checks

# A route dependency that checks the caller's key (app/access/deps.py) carries, under this
# attribute, a function saying what it would refuse. FastAPI decodes a JSON body before it
# runs any dependency, so a malformed body would otherwise be a 422 to a caller that has
# no key (401) or lacks the scope (403); the handlers below ask these checks first.
ACCESS_CHECK = "byline_access_check"
AccessCheck = Callable[[Request], AppError | None]
Dependency = TypeVar("Dependency", bound=Callable[..., Any])


def checks_access(check: AccessCheck) -> Callable[[Dependency], Dependency]:
    """Mark a dependency as an access check: `check` tells what it refuses for a request."""

    def mark(dependency: Dependency) -> Dependency:
        setattr(dependency, ACCESS_CHECK, check)
        return dependency

    return mark


def _access_checks(dependant: Any) -> Iterator[AccessCheck]:
    """The access checks among a route's dependencies, however deeply nested."""
    for sub in getattr(dependant, "dependencies", ()):
        check = getattr(sub.call, ACCESS_CHECK, None)
        if check is not None:
            yield check
        yield from _access_checks(sub)


def access_refusal(request: Request) -> AppError | None:
    """What the matched route's access checks refuse this caller, if anything."""
    route = request.scope.get("route")
    for check in _access_checks(getattr(route, "dependant", None)):
        refusal = check(request)
        if refusal is not None:
            return refusal
    return None


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if (refusal := access_refusal(request)) is not None:
        return await _app_error(request, refusal)
    errors = client_errors(exc.errors())
    shown = errors[:MAX_ERRORS]  # the rest is cut by problem_response, which says so
    # A field that failed every branch of a union has an error per branch: named once.
    names = ", ".join(
        dict.fromkeys(".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]) for e in shown)
    )
    return problem_response(request, 422, f"Invalid input: {names}", extra={"errors": errors})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI answers 400 for a body it could not decode at all (not UTF-8, say), also
    # before the dependencies run: the caller's access is checked first here too.
    if exc.status_code == 400 and (refusal := access_refusal(request)) is not None:
        return await _app_error(request, refusal)
    if exc.status_code == 400 and (unreadable := _unreadable_body(exc)) is not None:
        errors = [{"loc": ["body"], "msg": unreadable}]
        return problem_response(request, 422, f"body: {unreadable}", extra={"errors": errors})
    detail = (
        exc.detail
        if isinstance(exc.detail, str)
        else STATUS_SLUGS.get(exc.status_code, ("", "Error"))[1]
    )
    if exc.status_code == 404 and (location := slash_redirect(request.app, request.scope)):
        return Response(status_code=307, headers={"Location": location})
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request.app, request.scope)
    return problem_response(request, exc.status_code, detail, headers=headers)


def _unreadable_body(exc: StarletteHTTPException) -> str | None:
    """Why FastAPI could not parse a JSON body (it answers a bare 400 "There was an error
    parsing the body", raised from the parser's error), in the words of the JSON decode
    errors it reports as 422s; None for any other 400."""
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        return "is not valid JSON here: it nests too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "is not UTF-8 text"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "is not valid JSON here: it holds an integer too long to read (over 4300 digits)"
    if isinstance(cause, ValueError):
        return "could not be read as JSON"
    return None


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.exception("unhandled error", extra={"request_id": request_id})
    # The server-error handler runs outside every middleware: the request id and the rate
    # limit headers (API.md 7: on every response) that they would add are added here.
    admission = request.scope.get("state", {}).get("admission")
    limits = {name.decode(): value.decode() for name, value in getattr(admission, "headers", ())}
    return problem_response(
        request,
        500,
        f"An unexpected error occurred (request id {request_id}).",
        extra={"request_id": request_id},
        headers={"X-Request-ID": request_id, **limits},
    )


async def _integrity(request: Request, exc: Exception) -> Response:
    return problem_response(
        request, 409, "The change conflicts with data written at the same time; retry."
    )


async def _database_busy(request: Request, exc: Exception) -> Response:
    # Lock waits that outlast busy_timeout, or a database that went away: retryable.
    log.warning("database unavailable: %s", type(exc).__name__)
    return _retry_shortly(request, "The database is busy or unavailable; retry shortly.")


# What connecting to a service that is not there raises (refused, reset, timed out, a name
# that does not resolve); any other OSError is a bug, a 500 with its traceback logged.
UNREACHABLE: tuple[type[OSError], ...] = (ConnectionError, TimeoutError, socket.gaierror)


async def _service_unreachable(request: Request, exc: Exception) -> Response:
    # A connection refused or timed out (the database or Redis not listening): retryable,
    # like a busy database, and no fault of the request.
    log.warning("backing service unreachable: %s", type(exc).__name__)
    return _retry_shortly(request, "A backing service is unreachable; retry shortly.")


def _retry_shortly(request: Request, detail: str) -> Response:
    return problem_response(request, 503, detail, headers={"Retry-After": "1"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(InterfaceError, _database_busy)
    for unreachable in UNREACHABLE:
        app.add_exception_handler(unreachable, _service_unreachable)
    app.add_exception_handler(Exception, _unexpected)
