"""Pure ASGI middleware that every response passes through."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import send_problem

NUL_MESSAGE = "must not contain a NUL character (%00)"
VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Give every response an X-Request-ID, echoing a well-formed incoming one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        await self.app(scope, receive, with_headers(send, [(b"x-request-id", request_id)]))


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """`send`, adding these headers to the response's start message."""

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    return sender


_PROCESS_PREFIX = uuid.uuid4().hex[:12]
_serial = itertools.count(1)


def new_request_id() -> bytes:
    # A random per-process prefix and a counter: unique, and far cheaper than uuid4.
    return f"{_PROCESS_PREFIX}{next(_serial):x}".encode()


def request_id_for(scope: Scope) -> bytes:
    """The request's id: a well-formed incoming X-Request-ID, or a new one; kept in state."""
    request_id = _incoming(scope) or new_request_id()
    scope.setdefault("state", {})["request_id"] = request_id.decode()
    return request_id


def _incoming(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value if VALID_REQUEST_ID.match(value) else None
    return None


HEAD_STATE = "head"  # in scope["state"]: the client asked for HEAD (see is_head)


class HeadAsGetMiddleware:
    """Answer HEAD exactly as GET, without the body (RFC 9110 section 9.3.2)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        scope.setdefault("state", {})[HEAD_STATE] = True
        await self.app({**scope, "method": "GET"}, receive, send_without_body)


def is_head(scope: Scope) -> bool:
    """Whether a request the routes see as GET was a HEAD: a route whose body is costly to
    make (a streamed export) can then skip making it."""
    return bool(scope.get("state", {}).get(HEAD_STATE))


JSON_TYPES = ("application/json", "application/*+json")


@dataclass(frozen=True, slots=True)
class BodyRule:
    """How large a request body may be on a path, and in which media types."""

    max_bytes: int
    media_types: tuple[str, ...] = JSON_TYPES


class BodyGuardMiddleware:
    """Refuse oversized bodies (413) before reading them, and unexpected media types (415);
    and, for every method, a NUL character in the path (404) or a parameter (422).

    A declared Content-Length over the limit is refused without reading a byte; a body
    without one (chunked) is read at most up to the limit.
    """

    def __init__(self, app: ASGIApp, default: BodyRule, rules: dict[str, BodyRule]) -> None:
        self.app = app
        self.default = default
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if ("\x00" in scope["path"] or b"%00" in scope["query_string"]) and await _refused_nul(
            scope, send
        ):
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        rule = self.rules.get(scope["path"], self.default)
        headers = dict(scope["headers"])
        length = _content_length(headers)
        if length is not None and length > rule.max_bytes:
            await send_problem(
                scope, send, 413, f"The body is over the limit of {rule.max_bytes} bytes."
            )
            return
        has_body = (length or 0) > 0 or b"transfer-encoding" in headers
        if has_body and not _media_type_allowed(
            headers.get(b"content-type", b""), rule.media_types
        ):
            await send_problem(
                scope, send, 415, f"Send the body as one of: {', '.join(rule.media_types)}."
            )
            return
        if length is None and has_body:
            body = await _read_at_most(receive, rule.max_bytes)
            if body is None:
                await send_problem(
                    scope, send, 413, f"The body is over the limit of {rule.max_bytes} bytes."
                )
                return
            receive = _replay(body)
        await self.app(scope, receive, send)


async def _refused_nul(scope: Scope, send: Send) -> bool:
    """No stored value holds U+0000 (PostgreSQL's text cannot), so a path with one names
    nothing (404) and a parameter with one is invalid (422), before any query is made."""
    if "\x00" in scope["path"]:
        await send_problem(scope, send, 404, "No resource has a NUL character in its path.")
        return True
    query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    names = sorted({name for name, value in query if "\x00" in name + value})
    if not names:
        return False
    errors = [{"loc": ["query", name], "msg": NUL_MESSAGE} for name in names]
    await send_problem(scope, send, 422, f"Invalid input: {', '.join(names)}", errors=errors)
    return True


def _content_length(headers: dict[bytes, bytes]) -> int | None:
    raw = headers.get(b"content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _media_type_allowed(raw: bytes, allowed: tuple[str, ...]) -> bool:
    media = raw.decode("latin-1").split(";", 1)[0].strip().lower()
    main, _, sub = media.partition("/")
    for pattern in allowed:
        p_main, _, p_sub = pattern.partition("/")
        if p_main == main and (
            p_sub == sub or (p_sub.startswith("*+") and sub.endswith(p_sub[1:]))
        ):
            return True
    return False


async def _read_at_most(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
