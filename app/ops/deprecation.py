"""Deprecated routes: RFC 9745 `Deprecation`, RFC 8594 `Sunset`, a Link to /v1/changelog.

A route is marked with a route option, so the mark lives on the route itself and FastAPI
puts `deprecated: true` in the OpenAPI document:

    @router.get("/v1/old", **deprecated(since=..., sunset=..., note="Use /v1/new."))

OpsMiddleware (app/ops/middleware.py) adds the headers to every response of a marked
route, and GET /v1/changelog lists the marked routes. Routes answered by the fast lane
(app/articles/fastpath.py) never reach the middleware: do not mark those.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.core.http import http_date

EXTENSION = "x-deprecation"  # the OpenAPI extension that carries the dates on the operation
CHANGELOG_PATH = "/v1/changelog"
RawHeaders = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Notice:
    """When a route was deprecated, when it goes away, and what to use instead."""

    since: dt.datetime
    sunset: dt.datetime
    note: str
    successor: str | None = None

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.sunset.tzinfo is None:
            raise ValueError("deprecation dates need an offset")
        if self.sunset <= self.since:
            raise ValueError("the sunset must come after the deprecation")

    def extension(self) -> dict[str, str | None]:
        return {
            "since": _rfc3339(self.since),
            "sunset": _rfc3339(self.sunset),
            "note": self.note,
            "successor": self.successor,
        }

    @classmethod
    def from_extension(cls, data: dict[str, Any]) -> Notice:
        return cls(
            since=dt.datetime.fromisoformat(data["since"]),
            sunset=dt.datetime.fromisoformat(data["sunset"]),
            note=data["note"],
            successor=data.get("successor"),
        )

    def headers(self, changelog_url: str) -> RawHeaders:
        headers = [
            (b"deprecation", f"@{int(self.since.timestamp())}".encode()),  # RFC 9745 section 2.1
            (b"sunset", http_date(self.sunset).encode()),  # RFC 8594 section 3
            (b"link", f'<{changelog_url}>; rel="deprecation"; type="application/json"'.encode()),
        ]
        if self.successor:
            headers.append((b"link", f'<{self.successor}>; rel="successor-version"'.encode()))
        return headers


def deprecated(
    *, since: dt.datetime, sunset: dt.datetime, note: str, successor: str | None = None
) -> dict[str, Any]:
    """Route options that mark a route deprecated; the dates are checked here, at import."""
    notice = Notice(since, sunset, note, successor)
    return {"deprecated": True, "openapi_extra": {EXTENSION: notice.extension()}}


def notice_of(route: object) -> Notice | None:
    """The route's deprecation notice, if it was marked with `deprecated(...)`."""
    extra = getattr(route, "openapi_extra", None)
    if not isinstance(extra, dict) or EXTENSION not in extra:
        return None
    return Notice.from_extension(extra[EXTENSION])


def changelog(routes: Iterable[object]) -> list[dict[str, Any]]:
    """Every deprecated route, soonest sunset first: the body of GET /v1/changelog."""
    entries = []
    for route in routes:
        notice = notice_of(route)
        if notice is None:
            continue
        methods = sorted(getattr(route, "methods", None) or ())
        entries.append(
            {
                "kind": "deprecation",
                "methods": methods,
                "path": getattr(route, "path", ""),
                **notice.extension(),
            }
        )
    return sorted(entries, key=lambda e: (e["sunset"], e["path"]))


def changelog_url(public_base_url: str) -> str:
    return public_base_url.rstrip("/") + CHANGELOG_PATH


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
