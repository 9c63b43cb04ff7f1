"""The /v1/stats endpoints: scopes, shapes, ranges, refusals; and the frontend read counter."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.main import create_app
from app.stats.views import ViewCounter
from tests.access.test_keys import auth, make_key
from tests.conftest import BASE_URL, add_article

ENDPOINTS = [
    "/v1/stats/overview",
    "/v1/stats/publishing",
    "/v1/stats/categories",
    "/v1/stats/authors",
    "/v1/stats/usage",
    "/v1/stats/most-read",
]
TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
async def stats(session):
    return auth(await make_key(session, "stats", name="dashboard"))


async def get(client, stats, path, **params):
    response = await client.get(path, params=params, headers=stats)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-store"
    return response.json()


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_every_endpoint_needs_a_key_with_the_stats_scope(client, session, path):
    assert (await client.get(path)).status_code == 401
    reader = auth(await make_key(session, "read", name="reader"))
    response = await client.get(path, headers=reader)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/stats/publishing", {"interval": "month", "from": "x", "to": "0001-01-01"}),
        ("/v1/stats/usage", {"from": "yesterday"}),
        ("/v1/stats/usage", {"to": "0001-01-01"}),
        ("/v1/stats/authors", {"limit": "0"}),
        ("/v1/stats/most-read", {"period": "2d", "limit": "101"}),
    ],
)
async def test_the_key_is_judged_before_the_parameters(client, session, path, params):
    assert (await client.get(path, params=params)).status_code == 401
    reader = auth(await make_key(session, "read", "write", "syndicate", name="no-stats"))
    assert (await client.get(path, params=params, headers=reader)).status_code == 403
    stats = auth(await make_key(session, "stats", name="stats"))
    assert (await client.get(path, params=params, headers=stats)).status_code == 422


async def test_overview_counts_by_status_and_totals(client, session, settings, stats):
    await add_article(session, settings, category="Arts", authors=["A One"], tags=["Film"])
    await add_article(session, settings, category="Sport", authors=["B Two"], status="draft")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    await add_article(session, settings, category="Arts", published_at=soon)
    body = await get(client, stats, "/v1/stats/overview")
    assert body == {
        "articles": {"published": 1, "draft": 1, "scheduled": 1, "retracted": 0, "deleted": 0},
        "categories": 2, "authors": 3, "tags": 1,
    }  # fmt: skip


async def test_publishing_by_day_is_zero_filled(client, session, settings, stats):
    day = dt.date(2025, 3, 4)
    for hour in (1, 23):
        at = dt.datetime(2025, 3, 4, hour, 30, tzinfo=dt.UTC)
        await add_article(session, settings, published_at=at)
    late = dt.datetime(2025, 3, 6, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 7th UTC
    await add_article(session, settings, published_at=late)
    body = await get(
        client, stats, "/v1/stats/publishing", **{"from": "2025-03-03", "to": "2025-03-07"}
    )
    assert body["interval"] == "day"
    assert (body["from"], body["to"]) == ("2025-03-03", "2025-03-07")
    assert [(p["period"], p["count"]) for p in body["data"]] == [
        ("2025-03-03", 0), (day.isoformat(), 2), ("2025-03-05", 0), ("2025-03-06", 0), ("2025-03-07", 1),
    ]  # fmt: skip


async def test_publishing_by_week_starts_on_monday(client, session, settings, stats):
    for day in (3, 9, 10):  # Monday 3rd, Sunday 9th, Monday 10th of March 2025
        await add_article(
            session, settings, published_at=dt.datetime(2025, 3, day, 12, tzinfo=dt.UTC)
        )
    params = {"interval": "week", "from": "2025-03-01", "to": "2025-03-20"}
    body = await get(client, stats, "/v1/stats/publishing", **params)
    assert body["data"] == [
        {"period": "2025-02-24", "count": 0},
        {"period": "2025-03-03", "count": 2},
        {"period": "2025-03-10", "count": 1},
        {"period": "2025-03-17", "count": 0},
    ]


async def test_publishing_defaults_to_the_last_thirty_days(client, stats):
    body = await get(client, stats, "/v1/stats/publishing")
    assert body["to"] == TODAY.isoformat()
    assert len(body["data"]) == 30
    assert body["data"][0]["period"] == (TODAY - dt.timedelta(days=29)).isoformat()


@pytest.mark.parametrize(
    "params",
    [
        {"interval": "month"},
        {"from": "2025-13-01"},
        {"from": "yesterday"},
        {"from": "1700000000"},
        {"from": "2025-03-10", "to": "2025-03-01"},
        {"from": "2024-01-01", "to": "2025-01-02"},  # 368 days
        {"interval": "week", "from": "2010-01-01", "to": "2025-01-01"},
    ],
)
async def test_publishing_refuses_bad_ranges(client, stats, params):
    response = await client.get("/v1/stats/publishing", params=params, headers=stats)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/stats/publishing", {"to": "0001-01-01"}),
        ("/v1/stats/publishing", {"to": "0001-01-29"}),  # 30 days back is year 0
        ("/v1/stats/publishing", {"interval": "week", "to": "0001-01-03"}),
        ("/v1/stats/publishing", {"interval": "day", "to": "0001-01-03"}),
        ("/v1/stats/usage", {"to": "0001-01-01"}),
        ("/v1/stats/usage", {"to": "0001-01-06"}),  # 7 days back is year 0
    ],
)
async def test_a_default_range_before_year_one_is_422_on_to(client, stats, path, params):
    response = await client.get(path, params=params, headers=stats)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["loc"] == ["query", "to"]
    assert "`from`" in error["msg"]  # says how to ask for such a range


@pytest.mark.parametrize(
    ("path", "params", "first"),
    [
        ("/v1/stats/publishing", {"to": "0001-01-30"}, "0001-01-01"),
        ("/v1/stats/publishing", {"from": "0001-01-01", "to": "0001-01-01"}, "0001-01-01"),
        (
            "/v1/stats/publishing",
            {"interval": "week", "from": "0001-01-01", "to": "0001-01-03"},
            "0001-01-01",
        ),
        ("/v1/stats/publishing", {"from": "9999-12-31", "to": "9999-12-31"}, "9999-12-31"),
        (
            "/v1/stats/publishing",
            {"interval": "week", "from": "9999-12-20", "to": "9999-12-31"},
            "9999-12-20",
        ),
        ("/v1/stats/usage", {"to": "0001-01-07"}, "0001-01-01"),
        ("/v1/stats/usage", {"from": "9999-12-01", "to": "9999-12-31"}, "9999-12-01"),
    ],
)
async def test_ranges_at_the_ends_of_the_calendar(client, stats, path, params, first):
    body = await get(client, stats, path, **params)
    assert body["from"] == first
    assert body["data"] == [] or body["data"][0].get("count") == 0


@pytest.mark.parametrize("path", ["/v1/stats/publishing", "/v1/stats/usage"])
async def test_from_in_year_9999_without_to_is_after_today(client, stats, path):
    response = await client.get(path, params={"from": "9999-12-31"}, headers=stats)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "from"]


async def test_categories_and_authors_most_first(client, session, settings, stats):
    for category, authors in (("Arts", ["Zed"]), ("Sport", ["Amy", "Zed"]), ("Sport", ["Amy"])):
        await add_article(session, settings, category=category, authors=authors)
    await add_article(session, settings, category="News", authors=["Nobody"], status="draft")
    body = await get(client, stats, "/v1/stats/categories")
    assert body["data"] == [
        {"slug": "sport", "name": "Sport", "count": 2},
        {"slug": "arts", "name": "Arts", "count": 1},
        {"slug": "news", "name": "News", "count": 0},
    ]
    body = await get(client, stats, "/v1/stats/authors")
    assert body["data"] == [
        {"slug": "amy", "name": "Amy", "count": 2},
        {"slug": "zed", "name": "Zed", "count": 2},
    ]
    assert (await get(client, stats, "/v1/stats/authors", limit=1))["data"][0]["slug"] == "amy"
    for limit in (0, 101, "x"):
        response = await client.get("/v1/stats/authors", params={"limit": limit}, headers=stats)
        assert response.status_code == 422


async def test_usage_by_day_key_endpoint_and_status(app, client, session, settings, stats):
    view = await add_article(session, settings)
    await client.get(f"/v1/articles/{view.id}")
    await client.get("/v1/articles/no-such-thing")
    await client.get("/v1/articles", headers=stats)
    await app.state.usage.flush()
    body = await get(client, stats, "/v1/stats/usage")
    assert (body["from"], body["to"]) == (
        (TODAY - dt.timedelta(days=6)).isoformat(),
        TODAY.isoformat(),
    )
    rows = {(r["key_name"], r["endpoint"], r["status"]): r for r in body["data"]}
    anonymous = rows[(None, "/v1/articles/{key}", 200)]
    assert anonymous["key_id"] is None
    assert anonymous["count"] == 1
    assert anonymous["day"] == TODAY.isoformat()
    assert rows[(None, "/v1/articles/{key}", 404)]["count"] == 1
    keyed = rows[("dashboard", "/v1/articles", 200)]
    assert keyed["key_id"].startswith("key_")
    old = await get(client, stats, "/v1/stats/usage", **{"from": "2020-01-01", "to": "2020-01-02"})
    assert old["data"] == []


async def test_views_count_once_per_client_per_minute(app, client, session, settings, stats):
    first = await add_article(session, settings, headline="Read twice")
    second = await add_article(session, settings, headline="Read once")
    assert (await client.post(f"/v1/articles/{first.id}/views")).status_code == 202
    assert (await client.post(f"/v1/articles/{first.id}/views")).status_code == 204
    assert (await client.post(f"/v1/articles/{second.slug}/views")).status_code == 202
    counter: ViewCounter = app.state.view_counter
    assert counter.record("203.0.113.9", first.id)  # another client
    await counter.flush()
    body = await get(client, stats, "/v1/stats/most-read", period="1d")
    assert body["period"] == "1d"
    assert [(e["article"]["id"], e["views"]) for e in body["data"]] == [
        (first.id, 2),
        (second.id, 1),
    ]
    summary = body["data"][0]["article"]
    assert summary["headline"] == "Read twice"
    assert {"id", "slug", "url", "headline", "category", "authors", "links"} <= set(summary)
    assert (await get(client, stats, "/v1/stats/most-read", limit=1))["data"][0]["views"] == 2


async def test_views_of_unknown_or_unpublished_articles_are_404(client, session, settings):
    draft = await add_article(session, settings, status="draft")
    for key in (draft.id, "no-such-article"):
        response = await client.post(f"/v1/articles/{key}/views")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_most_read_counts_whole_days_and_refuses_bad_periods(
    app, client, session, settings, stats
):
    view = await add_article(session, settings)
    counter = ViewCounter(app.state.view_counter.sessions, max_remembered=1)
    week_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=6)).timestamp()
    assert counter.record("a", view.id, week_ago)
    assert counter.record("b", view.id, week_ago)  # the memory is full: counted, not remembered
    assert counter.record("b", view.id, week_ago)
    assert sum(counter.pending.values()) == 3
    await counter.flush()
    assert (await get(client, stats, "/v1/stats/most-read", period="1d"))["data"] == []
    assert (await get(client, stats, "/v1/stats/most-read", period="7d"))["data"][0]["views"] == 3
    for params in ({"period": "2d"}, {"limit": 0}, {"limit": 101}):
        response = await client.get("/v1/stats/most-read", params=params, headers=stats)
        assert response.status_code == 422


def test_the_dedupe_memory_is_forgotten_each_minute():
    counter = ViewCounter(async_sessionmaker())  # never flushed here
    assert counter.record("a", "art_1", 120.0)
    assert not counter.record("a", "art_1", 179.0)
    assert counter.record("a", "art_1", 180.0)
    assert len(counter._seen) == 1


async def test_read_windows_roll_forward_day_by_day(app, client, session, settings, stats):
    view = await add_article(session, settings)
    counter = ViewCounter(app.state.view_counter.sessions)
    day = dt.datetime.now(dt.UTC).date()
    noon = dt.datetime.combine(day, dt.time(12), dt.UTC).timestamp()
    assert counter.record("a", view.id, noon)
    assert counter.record("a", view.id, noon - 86_400 * 5)  # five days before
    await counter.flush(day)

    async def views(period: str) -> int:
        data = (await get(client, stats, "/v1/stats/most-read", period=period))["data"]
        return data[0]["views"] if data else 0

    assert [await views(p) for p in ("1d", "7d", "30d")] == [1, 2, 2]
    await counter.flush(day + dt.timedelta(days=1))  # nothing new: the windows move on
    assert [await views(p) for p in ("1d", "7d", "30d")] == [0, 2, 2]
    await counter.flush(day + dt.timedelta(days=3))
    assert [await views(p) for p in ("1d", "7d", "30d")] == [0, 1, 2]
    late = {(view.id, day + dt.timedelta(days=3)): 4}  # a read counted on the new day
    counter.pending.update(late)
    await counter.flush(day + dt.timedelta(days=3))
    assert [await views(p) for p in ("1d", "7d", "30d")] == [4, 5, 6]
    await counter.flush(day + dt.timedelta(days=40))
    assert [await views(p) for p in ("1d", "7d", "30d")] == [0, 0, 0]


async def test_views_are_rate_limited_per_client(session, settings, sessions):
    view = await add_article(session, settings)
    limited = create_app(settings.model_copy(update={"anonymous_rate_limit": "2/minute"}), sessions)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        codes = [(await client.post(f"/v1/articles/{view.id}/views")).status_code for _ in range(3)]
    assert codes == [202, 204, 429]


async def test_most_read_summaries_are_the_lists_summaries(app, client, session, settings, stats):
    """An article whose embargo lifted without a write: `updated_at` is the lift in the
    list, and so in most-read (the same summary, API.md 9)."""
    written = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    lifted = await add_article(
        session, settings, headline="Lifted", now=written,
        published_at=written + dt.timedelta(minutes=30),
    )  # fmt: skip
    assert (await client.post(f"/v1/articles/{lifted.id}/views")).status_code == 202
    await app.state.view_counter.flush()
    most_read = (await get(client, stats, "/v1/stats/most-read", period="1d"))["data"]
    listed = (await client.get("/v1/articles")).json()["data"]
    assert most_read[0]["article"] == listed[0]
    assert listed[0]["updated_at"] != lifted.updated_at.isoformat()  # the lift, not the write
