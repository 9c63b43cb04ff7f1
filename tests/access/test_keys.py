"""API keys: created by admins, stored hashed, scoped, revocable; /v1/keys/me."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import httpx
import pytest
from sqlalchemy import select

from app.access import service
from app.access.middleware import KeyResolver
from app.core.config import Settings
from app.main import create_app
from app.models import ApiKey
from tests.conftest import BASE_URL


async def make_key(
    session, *scopes: str, name: str | None = None, categories=None, rate_limit=None
) -> str:
    _, secret = await service.create(
        session, name=name or f"key-{'-'.join(scopes)}-{id(scopes)}", scopes=list(scopes),
        categories=categories, rate_limit=rate_limit, now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    await session.flush()
    return secret


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_admin_creates_a_key_shown_once_and_stored_hashed(client, session):
    admin = await make_key(session, "admin")
    response = await client.post(
        "/v1/keys",
        json={
            "name": "partner",
            "scopes": ["read", "syndicate"],
            "categories": ["science"],
            "rate_limit": "10/minute",
        },
        headers=auth(admin),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["key"].startswith("byl_")
    assert len(body["key"]) > 40
    assert body["scopes"] == ["read", "syndicate"]
    assert body["categories"] == ["science"]
    assert response.headers["location"] == f"/v1/keys/{body['id']}"
    assert response.headers["cache-control"] == "private, no-store"
    stored = await session.scalar(select(ApiKey).where(ApiKey.id == body["id"]))
    assert stored.secret_hash == hashlib.sha256(body["key"].encode()).hexdigest()
    assert body["key"] not in repr(stored.__dict__)
    listed = (await client.get("/v1/keys", headers=auth(admin))).json()["data"]
    assert "key" not in listed[-1]
    assert body["key"] not in str(listed)


async def test_keys_me_shows_the_caller_and_counts_today(app, client, session):
    secret = await make_key(session, "read", name="reader", categories=["science"])
    await client.get("/v1/articles", headers=auth(secret))
    await client.get("/v1/categories", headers=auth(secret))
    me = (await client.get("/v1/keys/me", headers=auth(secret))).json()
    assert me["name"] == "reader"
    assert me["scopes"] == ["read"]
    assert me["categories"] == ["science"]
    assert me["rate_limit"] == "12000/minute"
    assert me["usage_today"] == 2
    await app.state.usage.flush()
    again = (await client.get("/v1/keys/me", headers=auth(secret))).json()
    assert again["usage_today"] == 3


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer byl_unknown"}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"Authorization": "Bearer"}, 401),
    ],
)
async def test_missing_unknown_or_malformed_key_is_401(client, headers, status):
    response = await client.get("/v1/keys/me", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer") or not headers


async def test_an_unknown_key_is_refused_even_on_public_reads(client):
    assert (await client.get("/v1/articles", headers=auth("byl_nope"))).status_code == 401
    assert (await client.get("/v1/articles")).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json", "/dashboard"])
@pytest.mark.parametrize("header", ["Bearer byl_nope", "Basic dXNlcjpwYXNz"])
async def test_routes_outside_v1_need_no_key_so_an_unknown_one_is_ignored(client, path, header):
    response = await client.get(path, headers={"Authorization": header})
    assert response.status_code == 200, response.text


async def test_metrics_requiring_a_key_refuses_an_unknown_one(sessions, settings):
    app = create_app(settings.model_copy(update={"metrics_require_key": True}), sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.get("/metrics", headers=auth("byl_nope"))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_missing_scope_is_403_on_every_admin_route(client, session):
    reader = await make_key(session, "read", "write", "stats", "syndicate")
    for method, path in [
        ("GET", "/v1/keys"),
        ("POST", "/v1/keys"),
        ("GET", "/v1/keys/x"),
        ("DELETE", "/v1/keys/x"),
    ]:
        response = await client.request(
            method, path, headers=auth(reader), json={"name": "n", "scopes": ["read"]}
        )
        assert response.status_code == 403, (method, path)
        assert response.json()["status"] == 403


async def test_revoked_key_stops_working(client, session):
    admin = await make_key(session, "admin", name="boss")
    victim = await make_key(session, "read", name="victim")
    assert (await client.get("/v1/keys/me", headers=auth(victim))).status_code == 200
    assert (await client.delete("/v1/keys/victim", headers=auth(admin))).status_code == 204
    assert (await client.get("/v1/keys/me", headers=auth(victim))).status_code == 401
    listed = (await client.get("/v1/keys/victim", headers=auth(admin))).json()
    assert listed["revoked_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": ["superuser"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": ["read"], "rate_limit": "fast"}, "rate_limit"),
        ({"name": "x", "scopes": ["read"], "categories": ["Not A Slug"]}, "categories"),
        ({"name": "x", "scopes": ["read"], "colour": "red"}, "colour"),
    ],
)
async def test_bad_key_input_is_422_naming_the_field(client, session, body, field):
    admin = await make_key(session, "admin")
    response = await client.post("/v1/keys", json=body, headers=auth(admin))
    assert response.status_code == 422
    assert any(field in [str(p) for p in e["loc"]] for e in response.json()["errors"]), (
        response.json()
    )


async def test_duplicate_name_is_409(client, session):
    admin = await make_key(session, "admin", name="root")
    response = await client.post(
        "/v1/keys", json={"name": "root", "scopes": ["read"]}, headers=auth(admin)
    )
    assert response.status_code == 409


async def test_unknown_key_id_is_404(client, session):
    admin = await make_key(session, "admin")
    assert (await client.delete("/v1/keys/key_missing", headers=auth(admin))).status_code == 404


async def test_an_expired_cache_entry_is_looked_up_once_however_many_requests_wait(
    sessions, session
):
    secret = await make_key(session, "read", name="busy")
    opened = 0

    def counting_sessions():
        nonlocal opened
        opened += 1
        return sessions()

    resolver = KeyResolver(counting_sessions, ttl=0)  # every entry is already stale
    header = f"Bearer {secret}".encode()
    entries = await asyncio.gather(*(resolver.resolve(header) for _ in range(50)))
    assert {entry.info.name for entry in entries if entry.info} == {"busy"}
    assert opened == 1
    await resolver.resolve(header)  # the next miss looks it up again
    assert opened == 2


async def test_a_revocation_elsewhere_empties_the_key_cache_within_a_poll(sessions, session):
    """Another process (`byline keys revoke`, another server) revokes a key: this server
    forgets what it cached at its next poll, not only when the entries' ttl ends."""
    kept = await make_key(session, "read", name="kept")
    victim = await make_key(session, "read", name="victim")
    resolver = KeyResolver(sessions, ttl=300)  # the ttl alone would trust it for minutes
    headers = {"kept": f"Bearer {kept}".encode(), "victim": f"Bearer {victim}".encode()}
    for header in headers.values():
        assert (await resolver.resolve(header)).info is not None
    await resolver.check_revocations()  # the server's first look
    await resolver.check_revocations()  # nothing new: the cache stays
    assert resolver.cached(headers["kept"]) is not None
    await service.revoke(session, "victim", dt.datetime.now(dt.UTC))
    await resolver.check_revocations()
    assert resolver.cached(headers["victim"]) is None
    assert (await resolver.resolve(headers["victim"])).info is None
    assert (await resolver.resolve(headers["kept"])).info.name == "kept"  # looked up again


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/never-migrated.db",  # no api_keys table
        "postgresql://postgres@127.0.0.1:9/none",  # nothing listens there
    ],
)
async def test_a_key_that_cannot_be_looked_up_is_a_503_not_a_500(tmp_path, url):
    app = create_app(
        Settings(database_url=url.format(tmp=tmp_path), anonymous_rate_limit="60/minute")
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for path in ("/v1/keys/me", "/v1/stats/overview", "/v1/articles/some-slug"):
                response = await client.get(path, headers=auth("byl_" + "x" * 43))
                assert response.status_code == 503, (path, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                assert response.headers["retry-after"] == "1"
                assert response.headers["x-request-id"]
                assert response.headers["ratelimit-limit"] == "60"
            for path in ("/v1/articles", "/v1/categories"):  # no key: the route's own query
                response = await client.get(path)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["retry-after"] == "1"
    finally:
        await app.state.engine.dispose()
