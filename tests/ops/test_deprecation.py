"""Deprecated routes: RFC 9745/8594 headers, a Link to /v1/changelog, the changelog, OpenAPI."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime

import httpx
import pytest
from fastapi import APIRouter

from app.core.errors import NotFound
from app.main import Byline
from app.ops.deprecation import Notice, deprecated
from tests.conftest import BASE_URL

SINCE = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)
SUNSET = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=2)))
OLD = "/v1/test-only/old-widgets/{name}"


def add_deprecated_route(app: Byline) -> None:
    """A route that exists only in this test's app, marked as a real one would be."""
    router = APIRouter(tags=["test"])

    @router.get(
        OLD,
        operation_id="testOldWidgets",
        **deprecated(since=SINCE, sunset=SUNSET, note="Use /v1/widgets.", successor="/v1/widgets"),
    )
    async def old_widgets(name: str) -> dict[str, str]:
        """A deprecated test route."""
        if name == "missing":
            raise NotFound("No such widget.")
        return {"name": name}

    app.include_router(router)


@pytest.fixture
async def test_client(app: Byline) -> httpx.AsyncClient:
    add_deprecated_route(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


async def test_a_deprecated_route_sends_deprecation_sunset_and_link(test_client):
    async with test_client as client:
        response = await client.get("/v1/test-only/old-widgets/blue")
        missing = await client.get("/v1/test-only/old-widgets/missing")
        plain = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"name": "blue"}
    assert response.headers["deprecation"] == f"@{int(SINCE.timestamp())}"
    sunset = response.headers["sunset"]
    assert sunset.endswith(" GMT")
    assert parsedate_to_datetime(sunset) == SUNSET
    links = response.headers.get_list("link")
    assert f'<{BASE_URL}/v1/changelog>; rel="deprecation"; type="application/json"' in links
    assert '</v1/widgets>; rel="successor-version"' in links
    # Errors of a deprecated route are deprecated too; other routes say nothing.
    assert missing.status_code == 404
    assert missing.headers["deprecation"] == response.headers["deprecation"]
    assert "deprecation" not in plain.headers
    assert "sunset" not in plain.headers


async def test_the_changelog_lists_deprecated_routes(test_client):
    async with test_client as client:
        response = await client.get("/v1/changelog")
        again = await client.get(
            "/v1/changelog", headers={"If-None-Match": response.headers["etag"]}
        )
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert response.json() == {
        "data": [
            {
                "kind": "deprecation",
                "methods": ["GET"],
                "path": OLD,
                "since": "2026-01-15T09:30:00Z",
                "sunset": "2026-12-31T21:59:59Z",
                "note": "Use /v1/widgets.",
                "successor": "/v1/widgets",
            }
        ]
    }
    assert again.status_code == 304


async def test_openapi_marks_the_route_deprecated(test_client):
    async with test_client as client:
        spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"][OLD]["get"]
    assert operation["deprecated"] is True
    assert operation["x-deprecation"]["sunset"] == "2026-12-31T21:59:59Z"
    assert "deprecated" not in spec["paths"]["/v1/changelog"]["get"]


async def test_nothing_real_is_deprecated(client):
    response = await client.get("/v1/changelog")
    assert response.status_code == 200
    assert response.json() == {"data": []}
    spec = (await client.get("/openapi.json")).json()
    assert not [
        (path, method)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("deprecated")
    ]


def test_a_notice_needs_offsets_and_a_sunset_after_the_deprecation():
    with pytest.raises(ValueError, match="offset"):
        deprecated(since=dt.datetime(2026, 1, 1), sunset=SUNSET, note="x")
    with pytest.raises(ValueError, match="after"):
        Notice(since=SUNSET, sunset=SINCE, note="x")
