"""The HTTP protocol `byline serve` runs: uvicorn's httptools one, with its own 400 as a problem.

uvicorn answers a request it cannot parse (a raw non-ASCII or over-long request target, a
method token with bad characters) before any application sees it, with a text/plain
"Invalid HTTP request received." and no request id. Every other error here is an RFC 9457
problem with an `X-Request-ID` (API.md 1), so this one is too. Nothing of the request can
be trusted, not even its path: `instance` names the occurrence by its request id.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.core.errors import PROBLEM_JSON, problem_body
from app.core.middleware import new_request_id

UNPARSABLE = "The request is not valid HTTP/1.1 (its request line or a header could not be read)."


def unparsable_response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole 400 response, `default_headers` (uvicorn's date and server) first."""
    request_id = new_request_id()
    body = problem_body(400, UNPARSABLE, "urn:byline:request:" + request_id.decode())
    headers = [
        *default_headers,
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-request-id", request_id),
        (b"connection", b"close"),
    ]
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return STATUS_LINE[400] + lines + b"\r\n" + body


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        self.transport.write(unparsable_response(self.server_state.default_headers))
        self.transport.close()
