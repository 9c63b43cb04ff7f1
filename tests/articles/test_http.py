"""HTTP conventions: caching headers, conditional GET, CORS, request ids, problem details."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from tests.access.test_keys import auth, make_key
from tests.conftest import add_article


async def test_detail_caching_headers(client, session, settings):
    view = await add_article(session, settings, category="World Wide")
    response = await client.get(f"/v1/articles/{view.id}")
    assert response.headers["etag"] == f'"{view.id}.1"'
    assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=30"
    assert parsedate_to_datetime(response.headers["last-modified"]) == view.updated_at.replace(
        microsecond=0
    )
    assert response.headers["surrogate-key"].split() == [view.id, "world-wide"]


@pytest.mark.parametrize(
    "path", ["/v1/articles/{id}", "/v1/articles", "/v1/categories", "/v1/tags", "/v1/authors"]
)
async def test_if_none_match_gives_304(client, session, settings, path):
    view = await add_article(session, settings)
    url = path.format(id=view.id)
    first = await client.get(url)
    again = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    changed = await client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


async def test_if_modified_since(client, session, settings):
    view = await add_article(session, settings)
    first = await client.get(f"/v1/articles/{view.id}")
    since = first.headers["last-modified"]
    assert (
        await client.get(f"/v1/articles/{view.id}", headers={"If-Modified-Since": since})
    ).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(since).replace(year=2000), usegmt=True)
    assert (
        await client.get(f"/v1/articles/{view.id}", headers={"If-Modified-Since": earlier})
    ).status_code == 200
    assert (
        await client.get(f"/v1/articles/{view.id}", headers={"If-Modified-Since": "garbage"})
    ).status_code == 200


def asctime(when: dt.datetime) -> str:
    return f"{when:%a %b} {when.day:2d} {when:%H:%M:%S %Y}"  # the day padded with a space


@pytest.mark.parametrize(
    "form",
    [
        lambda when: f"{when:%a, %d %b %Y %H:%M:%S} GMT",
        lambda when: f"{when:%A, %d-%b-%y %H:%M:%S} GMT",
        asctime,
    ],
)
async def test_if_modified_since_takes_every_http_date_form(client, session, settings, form):
    """RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms (the last
    names no zone: HTTP dates are GMT)."""
    view = await add_article(session, settings)
    url = f"/v1/articles/{view.id}"
    modified = parsedate_to_datetime((await client.get(url)).headers["last-modified"])
    for when, status in ((modified, 304), (modified - dt.timedelta(seconds=1), 200)):
        since = form(when)
        response = await client.get(url, headers={"If-Modified-Since": since})
        assert response.status_code == status, since


async def test_list_surrogate_keys_name_articles_and_categories(client, session, settings):
    a = await add_article(session, settings, category="Science")
    b = await add_article(session, settings, category="Business")
    keys = (await client.get("/v1/articles")).headers["surrogate-key"].split()
    assert {a.id, b.id, "science", "business", "articles"} <= set(keys)


async def test_request_id_is_echoed_or_made(client):
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != ""
    assert " " not in made.headers["x-request-id"]
    assert (await client.get("/v1/articles/none")).headers["x-request-id"]


async def test_cors_simple_and_preflight(client):
    simple = await client.get("/v1/articles", headers={"Origin": "https://app.example"})
    assert simple.headers["access-control-allow-origin"] == "*"
    exposed = {
        h.strip().lower() for h in simple.headers["access-control-expose-headers"].split(",")
    }
    # What a browser client reads: caching, paging, limits, the export's resume point,
    # a replayed create, and a deprecation notice.
    assert exposed >= {
        "etag", "last-modified", "link", "location", "x-request-id", "ratelimit-limit",
        "ratelimit-remaining", "ratelimit-reset", "retry-after", "byline-change-cursor",
        "idempotent-replayed", "deprecation", "sunset",
    }  # fmt: skip
    preflight = await client.options(
        "/v1/articles",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert preflight.status_code == 200
    allowed = [
        h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
    ]
    assert "authorization" in allowed


async def test_unknown_route_and_method_are_problems(client):
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.delete("/v1/categories")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405
    assert wrong.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        # Each method is its own route: Allow names them all (RFC 9110 15.5.6), not the first.
        ("PUT", "/v1/articles", "GET, HEAD, POST"),
        ("POST", "/v1/articles/art_0123456789abcdef", "DELETE, GET, HEAD, PATCH, PUT"),
        ("DELETE", "/v1/webhooks", "GET, HEAD, POST"),
        ("POST", "/healthz", "GET, HEAD"),
    ],
)
async def test_a_405_allows_every_method_of_the_path(client, method, path, allow):
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == "application/problem+json"


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Byline"
    assert (await client.get("/docs")).status_code == 200


async def test_unexpected_error_is_a_500_problem_without_internals(app, monkeypatch):
    import httpx

    from app.articles import service

    async def explode(*_args, **_kwargs):
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(service, "list_articles", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://byline.test") as c:
        response = await c.get("/v1/articles", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "req-500"
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert "req-500" in response.json()["detail"]


async def test_unencoded_plus_in_an_offset_is_understood(client, session, settings):
    import datetime as dt

    await add_article(session, settings, published_at=dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC))
    response = await client.get("/v1/articles?published_after=2025-03-01T13:00:00+02:00")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1


async def test_head_is_answered_like_get_without_a_body(client, session, settings):
    view = await add_article(session, settings)
    for path in ("/v1/articles", f"/v1/articles/{view.id}", "/v1/categories"):
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["etag"] == get.headers["etag"]


async def test_empty_fields_is_a_422(client):
    response = await client.get("/v1/articles?fields=")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "fields"]


@pytest.mark.parametrize(
    ("path", "location"),
    [("/v1/articles/", "/v1/articles"), ("/v1/articles/?limit=2&q=x", "/v1/articles?limit=2&q=x")],
)
async def test_a_trailing_slash_redirects_relatively(client, path, location):
    """Never to the Host the request named: a forged one must not reach a cached Location."""
    response = await client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 307
    assert response.headers["location"] == location
    assert response.headers["x-request-id"]


async def test_a_trailing_slash_on_nothing_is_a_404(client):
    response = await client.get("/v1/nothing-here/")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/feeds/all.rss?limit=abc&limit=5", "limit"),
        ("/v1/articles/x/ninjs?version=3.1&version=2.2", "version"),
        ("/v1/changes?limit=1&limit=2", "limit"),
        ("/v1/export?since=2020-01-01&since=2021-01-01", "since"),
    ],  # /v1/articles: tests/articles/test_list.py
)
async def test_a_single_valued_parameter_given_twice_is_422_everywhere(client, path, name):
    response = await client.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"loc": ["query", name], "msg": "has several different values; give it once"}
    ]


async def test_a_repeated_parameter_is_judged_after_the_key(client, session):
    refused = await client.get("/v1/stats/publishing?interval=day&interval=week")
    assert refused.status_code == 401  # the key first, as for any other bad parameter
    stats = auth(await make_key(session, "stats"))
    response = await client.get("/v1/stats/publishing?interval=day&interval=week", headers=stats)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "interval"]
    same = await client.get("/v1/stats/publishing?interval=week&interval=week", headers=stats)
    assert same.status_code == 200
