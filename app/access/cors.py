"""CORS preflights like every other response: RateLimit headers, and problems for refusals.

Starlette's CORSMiddleware answers a preflight itself, before the gate sees the request,
with a text/plain body. Preflights are not counted against a limit (a browser sends one
before the request it guards, which is counted), but API.md has every response carry the
caller's RateLimit headers and every error be a problem document.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.access.middleware import Gate
from app.core.errors import send_problem
from app.core.middleware import with_headers


class GatedCORSMiddleware(CORSMiddleware):
    def __init__(self, app: ASGIApp, gate: Gate, options: dict[str, Any]) -> None:
        super().__init__(app, **options)
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_preflight(scope):
            await super().__call__(scope, receive, send)
            return
        limits = await self.gate.peek(scope)
        answer = self.preflight_response(request_headers=Headers(scope=scope))
        if answer.status_code < 400:
            await answer(scope, receive, with_headers(send, limits) if limits else send)
            return
        # Starlette says "Disallowed CORS origin, headers" in text/plain: say which, as
        # a problem document, keeping the CORS headers a browser needs to read it.
        refused = bytes(answer.body).decode().removeprefix("Disallowed CORS ")
        detail = f"The CORS preflight asks for what this API does not allow: {refused}."
        kept = [
            (name, value) for name, value in answer.raw_headers
            if name.startswith(b"access-control-") or name == b"vary"
        ]  # fmt: skip
        await send_problem(scope, send, answer.status_code, detail, [*kept, *limits])


def _is_preflight(scope: Scope) -> bool:
    """What CORSMiddleware answers itself: OPTIONS with Origin and a requested method."""
    if scope["type"] != "http" or scope["method"] != "OPTIONS":
        return False
    names = {name for name, _ in scope["headers"]}
    return b"origin" in names and b"access-control-request-method" in names
