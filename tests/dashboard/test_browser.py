"""/dashboard in a real browser (Debian's chromium, headless, driven by Playwright) over `byline serve`.

The database is this module's own (a SQLite file, or a PostgreSQL database beside the test
database), filled over HTTP as a newsroom would: articles, views, requests by several keys.
The test reads each chart's data back from Chart.js (`Chart.getChart(canvas)`) and each
table's text, and compares them with what the API answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, Route, async_playwright

from app.access import service as access
from app.core.db import make_engine, make_sessionmaker, session_scope
from app.models import WebhookDelivery
from tests.conftest import json_object, own_database
from tests.dashboard.test_webhook_stats import HOUR, delivery
from tests.e2e.conftest import Database, Server, running_servers
from tests.webhooks.conftest import subscribe

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"  # git-ignored
SETTINGS = {"BYLINE_ANONYMOUS_RATE_LIMIT": "none", "BYLINE_KEY_RATE_LIMIT": "100000/minute"}
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
USAGE_FLUSH_WAIT = 15.0  # the server flushes usage every 5 s
HOSTILE = '<img src=x onerror="window.__pwned=1">'  # must show as text, never run
HOSTILE_KEY = f"partner {HOSTILE}"  # a key's name, shown in the usage panel
STATS_PANELS = ("overview", "publishing", "categories", "authors", "usage", "most-read", "webhooks")
# (category, author, days ago, views): what the newsroom publishes and readers read
ARTICLES = [
    ("Science", "Ada Writer", 1, 5),
    ("Science", "Ada Writer", 2, 3),
    ("Science", "Ben Reporter", 2, 0),
    ("Business", "Ben Reporter", 4, 1),
    ("Business", "Ada Writer", 9, 0),
    (f"World {HOSTILE}", "Cy Columnist", 12, 2),
]


@dataclass
class Newsroom:
    server: Server
    stats_key: str
    reader_key: str
    writer_key: str


# ---- the database, the server and what the newsroom does


@pytest.fixture(scope="module")
async def dash_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """A migrated, empty database of this module's own (PostgreSQL: beside the test database)."""
    workdir = tmp_path_factory.mktemp(f"dashboard-{backend}")
    async with own_database(backend, workdir, "dashboard") as url:
        yield Database(url, workdir)


async def _keys_and_webhooks(database: Database) -> dict[str, str]:
    """Keys by name (in-process: quicker than the CLI), and two subscriptions with an outbox."""
    engine = make_engine(database.url)
    secrets: dict[str, str] = {}
    try:
        async with session_scope(make_sessionmaker(engine, writes=True)) as session:
            now = dt.datetime.now(dt.UTC)
            for name, scopes in (
                ("dashboard", ["stats"]), ("desk", ["write"]), ("reader", ["read"]),
                (HOSTILE_KEY, ["read", "syndicate"]),
            ):  # fmt: skip
                key, secrets[name] = await access.create(
                    session, name=name, scopes=scopes, categories=None, rate_limit=None, now=now
                )
            owner = access.info_of(key)
            # Retractions only: the articles published next add nothing to these outboxes.
            only = ["retracted"]
            hook, _ = await subscribe(
                session, owner, url=f"http://127.0.0.1:9/{HOSTILE}", events=only
            )
            quiet, _ = await subscribe(session, owner, url="http://127.0.0.1:9/quiet", events=only)
            rows: list[WebhookDelivery] = [delivery(hook.id, "pending", None)]
            rows += [delivery(hook.id, "delivered", HOUR) for _ in range(4)]
            rows += [delivery(hook.id, "failed", HOUR), delivery(quiet.id, "delivered", HOUR)]
            session.add_all(rows)
    finally:
        await engine.dispose()
    return secrets


def _publish(client: httpx.Client, desk: str) -> list[str]:
    """The articles of ARTICLES (and one draft) over HTTP; their ids, in ARTICLES' order."""
    now = dt.datetime.now(dt.UTC)
    ids = []
    for n, (category, author, days_ago, _) in enumerate([*ARTICLES, ("Science", "Dee", 0, 0)]):
        body = {
            "headline": f"Dashboard story {n} {HOSTILE}" if n == 0 else f"Dashboard story {n}",
            "dek": "A dek.", "category": category, "authors": [author],
            "published_at": (now - dt.timedelta(days=days_ago)).isoformat(),
            "takeaways": ["One."], "sections": [{"heading": None, "paragraphs": ["Text."]}],
            "status": "draft" if n == len(ARTICLES) else "published",
        }  # fmt: skip
        made = client.post("/v1/articles", json=body, headers=bearer(desk))
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return ids[: len(ARTICLES)]


def _read(client: httpx.Client, ids: list[str], reader: str, partner: str) -> None:
    """Views from a frontend, and requests by a key and anonymously (some of them 404s)."""
    for article_id, (*_, views) in zip(ids, ARTICLES, strict=True):
        for _ in range(views):
            recorded = client.post(f"/v1/articles/{article_id}/views")
            assert recorded.status_code < 300, recorded.text
    for _ in range(3):
        assert client.get("/v1/articles", headers=bearer(reader)).status_code == 200
    assert client.get("/v1/articles/no-such-story", headers=bearer(reader)).status_code == 404
    assert client.get("/v1/categories").status_code == 200
    assert client.get("/v1/articles", headers=bearer(partner)).status_code == 200


def _wait_for_usage(client: httpx.Client, stats: str, key_name: str) -> None:
    deadline = time.monotonic() + USAGE_FLUSH_WAIT
    while time.monotonic() < deadline:
        rows = client.get("/v1/stats/usage", headers=bearer(stats)).json()["data"]
        if any(row["key_name"] == key_name for row in rows):
            return
        time.sleep(0.25)
    raise AssertionError(f"no usage of {key_name!r} after {USAGE_FLUSH_WAIT}s")


@pytest.fixture(scope="module")
async def newsroom(dash_database: Database) -> AsyncIterator[Newsroom]:
    secrets = await _keys_and_webhooks(dash_database)
    with running_servers(dash_database, 1, SETTINGS) as [server], server.client() as client:
        ids = _publish(client, secrets["desk"])
        _read(client, ids, secrets["reader"], secrets[HOSTILE_KEY])
        _wait_for_usage(client, secrets["dashboard"], "reader")
        yield Newsroom(server, secrets["dashboard"], secrets["reader"], secrets["desk"])


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# ---- the browser


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Traffic:
    """What the page asked for and what the stats endpoints answered it."""

    requests: list[tuple[str, dict[str, str]]]
    answers: dict[str, Any]


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[tuple[Page, Traffic]]:
    context = await browser.new_context(viewport=LAPTOP, reduced_motion="reduce")
    opened = await context.new_page()
    traffic = Traffic([], {})
    errors: list[str] = []
    opened.on("request", lambda r: traffic.requests.append((r.url, r.headers)))
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    refused = ("status of 401", "status of 403")  # Chrome logs every refused fetch; expected

    async def keep(response: Response) -> None:
        if "/v1/stats/" in response.url and response.status == 200:
            name = response.url.split("/v1/stats/")[1].split("?")[0]
            traffic.answers[name] = await response.json()

    opened.on("response", keep)
    try:
        yield opened, traffic
        # No script error, no CSP violation, no failed load (bar the refused keys' calls).
        assert [e for e in errors if not any(r in e for r in refused)] == [], errors
    finally:
        await context.close()


async def sign_in(page: Page, base_url: str, key: str) -> None:
    await page.goto(base_url + "/dashboard")
    await page.fill("#stats-key", key)
    await page.click("#key-form button[type=submit]")
    await page.wait_for_selector("body[data-state=ready], body[data-state=refused]")


async def chart(page: Page, canvas: str) -> dict[str, Any]:
    data: dict[str, Any] = await page.evaluate(
        """(id) => {
            const chart = Chart.getChart(document.getElementById(id));
            return chart && {labels: chart.data.labels,
                             sets: chart.data.datasets.map((d) => ({label: d.label, data: d.data}))};
        }""",
        canvas,
    )
    assert data is not None, f"no chart on #{canvas}"
    return data


async def table(page: Page, table_id: str) -> list[list[str]]:
    rows: list[list[str]] = await page.evaluate(
        """(id) => [...document.querySelectorAll('#' + id + ' tbody tr')].map(
            (tr) => [...tr.cells].map((td) => td.textContent))""",
        table_id,
    )
    return rows


def api(newsroom: Newsroom, path: str, **params: Any) -> dict[str, Any]:
    with newsroom.server.client() as client:
        response = client.get(
            f"/v1/stats/{path}", params=params, headers=bearer(newsroom.stats_key)
        )
    assert response.status_code == 200, response.text
    return json_object(response)


def texts(values: list[Any]) -> list[str]:
    return [str(v) for v in values]


async def test_every_chart_shows_what_the_api_returns(
    newsroom: Newsroom, page: tuple[Page, Traffic], tmp_path: Path
) -> None:
    tab, traffic = page
    await sign_in(tab, newsroom.server.base_url, newsroom.stats_key)
    assert await tab.get_attribute("body", "data-state") == "ready"
    assert await tab.evaluate("sessionStorage.getItem('byline.statsKey')") == newsroom.stats_key
    await _wait_for(lambda: set(traffic.answers) >= set(STATS_PANELS))

    # The page asked only its own server, and sent the key with every API call.
    base = newsroom.server.base_url
    assert all(url.startswith(base + "/") for url, _ in traffic.requests), traffic.requests
    api_calls = [headers for url, headers in traffic.requests if "/v1/" in url]
    assert len(api_calls) >= len(STATS_PANELS)
    assert all(h.get("authorization") == f"Bearer {newsroom.stats_key}" for h in api_calls)

    # What the page was answered is what the test is answered (usage moves: the page is counted).
    for path, params in (
        ("overview", {}), ("publishing", {"interval": "day"}), ("categories", {}),
        ("authors", {"limit": 10}), ("most-read", {"period": "7d", "limit": 10}), ("webhooks", {}),
    ):  # fmt: skip
        assert traffic.answers[path] == api(newsroom, path, **params), path

    await _check_overview(tab, traffic.answers["overview"])
    await _check_publishing(tab, traffic.answers["publishing"])
    await _check_ranking(tab, "categories", traffic.answers["categories"]["data"])
    await _check_ranking(tab, "authors", traffic.answers["authors"]["data"])
    await _check_most_read(tab, traffic.answers["most-read"]["data"])
    await _check_usage(tab, traffic.answers["usage"]["data"], newsroom)
    await _check_webhooks(tab, traffic.answers["webhooks"]["data"])
    assert await tab.evaluate("window.__pwned") is None  # the hostile texts stayed text
    await _screenshots(tab, tmp_path)


async def _wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _check_overview(tab: Page, overview: dict[str, Any]) -> None:
    shown = await tab.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#overview [data-field]')]
            .map((dd) => [dd.dataset.field, dd.textContent]))"""
    )
    expected = {f"articles.{k}": str(v) for k, v in overview["articles"].items()}
    expected |= {k: str(overview[k]) for k in ("categories", "authors", "tags")}
    assert shown == expected
    assert overview["articles"]["published"] == len(ARTICLES)
    assert overview["articles"]["draft"] == 1


async def _check_publishing(tab: Page, publishing: dict[str, Any]) -> None:
    drawn = await chart(tab, "chart-publishing")
    assert drawn["labels"] == [p["period"] for p in publishing["data"]]
    assert drawn["sets"][0]["data"] == [p["count"] for p in publishing["data"]]
    assert await table(tab, "table-publishing") == [
        [p["period"], str(p["count"])] for p in publishing["data"]
    ]
    assert sum(p["count"] for p in publishing["data"]) == len(ARTICLES)


async def _check_ranking(tab: Page, name: str, rows: list[dict[str, Any]]) -> None:
    drawn = await chart(tab, f"chart-{name}")
    assert drawn["labels"] == [r["name"] for r in rows]
    assert drawn["sets"][0]["data"] == [r["count"] for r in rows]
    assert await table(tab, f"table-{name}") == [[r["name"], str(r["count"])] for r in rows]
    column = 0 if name == "categories" else 1
    seeded: dict[str, int] = defaultdict(int)
    for article in ARTICLES:
        seeded[article[column]] += 1
    assert {r["name"]: r["count"] for r in rows} == seeded


async def _check_most_read(tab: Page, rows: list[dict[str, Any]]) -> None:
    drawn = await chart(tab, "chart-most-read")
    assert drawn["labels"] == [r["article"]["headline"] for r in rows]
    assert drawn["sets"][0]["data"] == [r["views"] for r in rows]
    assert await table(tab, "table-most-read") == [
        [r["article"]["headline"], r["article"]["category"]["name"], str(r["views"])] for r in rows
    ]
    assert rows, "the views recorded over HTTP are in most-read"
    assert f"Dashboard story 0 {HOSTILE}" in drawn["labels"]


async def _check_usage(tab: Page, rows: list[dict[str, Any]], newsroom: Newsroom) -> None:
    per_key_status: dict[tuple[str, int], int] = defaultdict(int)
    per_row: dict[tuple[str, str, int], int] = defaultdict(int)
    for row in rows:
        key = "anonymous" if row["key_id"] is None else row["key_name"]
        per_key_status[key, row["status"]] += row["count"]
        per_row[key, row["endpoint"], row["status"]] += row["count"]
    drawn = await chart(tab, "chart-usage")
    drawn_counts = {
        (key, int(dataset["label"])): count
        for dataset in drawn["sets"]
        for key, count in zip(drawn["labels"], dataset["data"], strict=True)
        if count
    }
    assert drawn_counts == dict(per_key_status)
    shown = {(k, e, int(s)): int(c) for k, e, s, c in await table(tab, "table-usage")}
    assert shown == dict(per_row)
    assert per_key_status["reader", 200] >= 3
    assert per_key_status["reader", 404] >= 1
    assert any(key == "anonymous" for key, _ in per_key_status)
    assert per_key_status[HOSTILE_KEY, 200] >= 1


async def _check_webhooks(tab: Page, rows: list[dict[str, Any]]) -> None:
    drawn = await chart(tab, "chart-webhooks")
    assert drawn["labels"] == [r["url"] for r in rows]
    by_label = {d["label"]: d["data"] for d in drawn["sets"]}
    assert by_label == {
        "Delivered 24 h": [r["delivered_24h"] for r in rows],
        "Failed 24 h": [r["failed_24h"] for r in rows],
        "Pending": [r["pending"] for r in rows],
    }
    shown = await table(tab, "table-webhooks")
    assert [row[:5] for row in shown] == [
        [r["url"], r["status"], str(r["pending"]), str(r["delivered_24h"]), str(r["failed_24h"])]
        for r in rows
    ]
    assert [(r["pending"], r["delivered_24h"], r["failed_24h"]) for r in rows] == [
        (1, 4, 1),
        (0, 1, 0),
    ]


async def _screenshots(tab: Page, tmp_path: Path) -> None:
    """A laptop and a phone screenshot; on the phone nothing may stick out sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, size in (("laptop", LAPTOP), ("phone", PHONE)):
        await tab.set_viewport_size(size)
        await tab.wait_for_timeout(200)  # Chart.js resizes on the next frame
        overflow = await tab.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
        for where in (tmp_path, SCREENSHOTS):
            await tab.screenshot(path=str(where / f"dashboard-{name}.png"), full_page=True)
    assert (tmp_path / "dashboard-phone.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("which", "says"),
    [
        ("unknown", ["(401)", "stats scope"]),
        ("reader", ["(403)", "lacks the stats scope"]),
        ("not a header value", ["not a valid key"]),  # fetch refuses it before any request
    ],
)
async def test_a_refused_key_is_forgotten_and_asked_for_again(
    newsroom: Newsroom, page: tuple[Page, Traffic], which: str, says: list[str]
) -> None:
    tab, _ = page
    keys = {"unknown": "byl_not-a-key-at-all", "reader": newsroom.reader_key}
    await sign_in(tab, newsroom.server.base_url, keys.get(which, "byl_кириллица"))
    assert await tab.get_attribute("body", "data-state") == "refused"
    message = await tab.text_content("#key-message")
    assert message is not None
    assert all(part in message for part in says), message
    assert await tab.is_visible("#key-form")
    assert await tab.is_hidden("#board")
    assert await tab.evaluate("sessionStorage.getItem('byline.statsKey')") is None

    # A good key then works without reloading the page.
    await tab.fill("#stats-key", newsroom.stats_key)
    await tab.click("#key-form button[type=submit]")
    await tab.wait_for_selector("body[data-state=ready]")
    assert await tab.is_hidden("#key-panel")
    assert await chart(tab, "chart-categories")


async def test_the_key_survives_a_reload_and_forget_drops_it(
    newsroom: Newsroom, page: tuple[Page, Traffic]
) -> None:
    tab, _ = page
    await sign_in(tab, newsroom.server.base_url, newsroom.stats_key)
    await tab.reload()
    await tab.wait_for_selector("body[data-state=ready]")
    await tab.click("#forget")
    assert await tab.evaluate("sessionStorage.getItem('byline.statsKey')") is None
    assert await tab.is_visible("#key-form")
    assert await tab.is_hidden("#board")


def test_screenshots_dir_is_git_ignored() -> None:
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().splitlines()
    assert "var/" in ignored


PREFIX = "/byline"  # where a reverse proxy might serve Byline


async def test_the_dashboard_works_behind_a_path_prefix(
    newsroom: Newsroom, page: tuple[Page, Traffic]
) -> None:
    """The browser plays a proxy that serves Byline under /byline: every request the page
    makes must stay under the prefix (it is passed on without it); any other is refused."""
    tab, traffic = page
    base = newsroom.server.base_url
    outside: list[str] = []

    async def proxy(route: Route) -> None:
        path = route.request.url.removeprefix(base)
        if path.startswith(PREFIX + "/"):
            # As a proxy does: fetch without the prefix, hand the answer back as it came
            # (a redirect's Location included) for the browser to read against its own URL.
            answer = await route.fetch(url=base + path.removeprefix(PREFIX), max_redirects=0)
            await route.fulfill(response=answer)
        else:
            outside.append(path)
            await route.fulfill(status=404, body="outside the prefix")

    await tab.route(f"{base}/**", proxy)
    await sign_in(tab, base + PREFIX, newsroom.stats_key)
    assert outside == []
    assert await tab.get_attribute("body", "data-state") == "ready"
    assert await chart(tab, "chart-categories") == categories_chart(newsroom)
    assert any(url.startswith(f"{base}{PREFIX}/v1/stats/") for url, _ in traffic.requests)


def categories_chart(newsroom: Newsroom) -> dict[str, Any]:
    """The categories chart the dashboard should draw, from the API's own answer."""
    rows = api(newsroom, "categories")["data"]
    return {
        "labels": [row["name"] for row in rows],
        "sets": [{"label": "Articles", "data": [row["count"] for row in rows]}],
    }


async def test_the_weekly_chart_asks_for_whole_weeks(
    newsroom: Newsroom, page: tuple[Page, Traffic]
) -> None:
    """The API counts only days within `from`..`to`, so a `from` other than a Monday would
    make the first bar, labelled with its Monday, a partial week."""
    tab, traffic = page
    await sign_in(tab, newsroom.server.base_url, newsroom.stats_key)
    await _wait_for(lambda: "publishing" in traffic.answers)
    await tab.select_option("#publishing-interval", "week")
    await _wait_for(lambda: traffic.answers["publishing"]["interval"] == "week")
    asked = [url for url, _ in traffic.requests if "interval=week" in url]
    query = dict(parse_qsl(urlsplit(asked[-1]).query))
    first, last = dt.date.fromisoformat(query["from"]), dt.date.fromisoformat(query["to"])
    assert first.weekday() == 0, query  # a Monday
    assert 25 * 7 <= (last - first).days < 26 * 7
    weekly = traffic.answers["publishing"]
    assert weekly == api(
        newsroom, "publishing", interval="week", **{"from": query["from"], "to": query["to"]}
    )
    assert weekly["data"][0]["period"] == query["from"]
