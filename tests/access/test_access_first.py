"""A caller without the key or scope a route needs is told so (401/403) before anything
about its input, even a body that is not JSON at all (FastAPI decodes it before it runs
any dependency)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.core.errors import ACCESS_CHECK
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

MALFORMED = [b"{bad", b'{"headline": ', b"\xff\xfe{}", b"[1, 2"]
JSON = {"Content-Type": "application/json"}


def _needs_a_key(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if hasattr(dependency.call, ACCESS_CHECK):
            return True
        pending.extend(dependency.dependencies)
    return False


def guarded_routes_with_bodies(app) -> list[tuple[str, str]]:
    """(method, path) of every /v1 route that decodes a JSON body and needs a key."""
    found = []
    for route in (context.route for context in iter_route_contexts(app.routes)):
        if isinstance(route, APIRoute) and route.path.startswith("/v1/") and route.body_field:
            if _needs_a_key(route):
                path = re.sub(r"\{[^}]+\}", "x1", route.path)  # any id: access comes first
                found.extend((method, path) for method in sorted(route.methods))
    return found


async def test_every_guarded_route_with_a_body_refuses_a_missing_key_first(app, client):
    routes = guarded_routes_with_bodies(app)
    assert ("POST", "/v1/articles") in routes
    assert ("POST", "/v1/keys") in routes
    assert len(routes) >= 8
    for method, path in routes:
        for body in MALFORMED:
            response = await client.request(method, path, content=body, headers=JSON)
            assert response.status_code == 401, (method, path, body, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("body", MALFORMED)
@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/v1/articles", "write"),
        ("PUT", "/v1/articles/{id}", "write"),
        ("POST", "/v1/articles/{id}/publish", "write"),
        ("POST", "/v1/articles/{id}/retract", "write"),
        ("POST", "/v1/articles/{id}/corrections", "write"),
        ("DELETE", "/v1/articles/{id}", "write"),
        ("POST", "/v1/keys", "admin"),
    ],
)
async def test_a_key_without_the_scope_is_a_403_whatever_the_body(
    client, session, settings, method, path, scope, body
):
    view = await add_article(session, settings)
    reader = auth(await make_key(session, "read", "syndicate", "stats"))
    url = path.format(id=view.id)
    response = await client.request(method, url, content=body, headers={**JSON, **reader})
    assert response.status_code == 403, response.text
    assert scope in response.json()["detail"]


@pytest.mark.parametrize("body", MALFORMED)
async def test_with_the_scope_a_malformed_body_is_still_its_own_error(client, session, body):
    writer = auth(await make_key(session, "write"))
    response = await client.post("/v1/articles", content=body, headers={**JSON, **writer})
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_valid_body_without_a_key_is_still_a_401(client):
    response = await client.post("/v1/articles", json={"headline": ""})
    assert response.status_code == 401


async def test_webhook_routes_judge_their_own_scopes_before_a_malformed_body(client, session):
    """POST /v1/webhooks takes `admin` or `syndicate`: 401 without a key, 403 without both."""
    assert (await client.post("/v1/webhooks", content=b"{bad", headers=JSON)).status_code == 401
    reader = auth(await make_key(session, "read", "write"))
    response = await client.post("/v1/webhooks", content=b"{bad", headers={**JSON, **reader})
    assert response.status_code == 403, response.text
    partner = auth(await make_key(session, "read", "syndicate"))
    response = await client.post("/v1/webhooks", content=b"{bad", headers={**JSON, **partner})
    assert response.status_code == 422
