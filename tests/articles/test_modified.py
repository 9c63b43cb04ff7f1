"""An article's update time for readers: its last write, or its embargo lifting if later.

A lift writes nothing, so `updated_at` alone would stay before `published_at`: a client
polling with `updated_since` would never be given an article that became visible after
its last poll, and `sort=-updated_at` would put it among older ones.
"""

from __future__ import annotations

import datetime as dt
import random
from email.utils import parsedate_to_datetime

import pytest

from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PARIS = dt.timezone(dt.timedelta(hours=2))


def ago(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def q(moment: dt.datetime) -> str:
    return z(moment).replace("+", "%2B")


async def lifted(session, settings, headline="Lifted", written=120, **overrides):
    """Written two hours (or `written` minutes) ago for publication one hour ago, at +02:00."""
    return await add_article(
        session, settings, headline=headline, published_at=ago(60).astimezone(PARIS),
        now=ago(written), **overrides,
    )  # fmt: skip


async def written(session, settings, minutes: float, headline: str, **overrides):
    """Published and last written `minutes` ago."""
    return await add_article(
        session, settings, headline=headline, published_at=ago(minutes + 30), now=ago(minutes),
        **overrides,
    )  # fmt: skip


async def headlines(client, url: str, headers=None) -> list[str]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return [item["headline"] for item in response.json()["data"]]


async def walk(client, url: str, headers=None) -> list[str]:
    seen: list[str] = []
    while url:
        body = (await client.get(url, headers=headers)).json()
        seen += [item["headline"] for item in body["data"]]
        url = body["links"]["next"]
    return seen


async def test_a_lifted_article_shows_its_lift_as_its_update(client, session, settings):
    view = await lifted(session, settings, category="Science")
    anchor = await written(session, settings, 300, "Anchor", category="Science")
    lift = z(ago(60))
    listed = (await client.get("/v1/articles")).json()["data"]
    assert {d["headline"]: d["updated_at"] for d in listed}["Lifted"] == lift
    detail = await client.get(f"/v1/articles/{view.id}")
    assert detail.json()["updated_at"] == lift
    assert detail.json()["published_at"] == ago(60).astimezone(PARIS).isoformat()  # as filed
    assert parsedate_to_datetime(detail.headers["last-modified"]) == ago(60)
    cached = await client.get(f"/v1/articles/{view.id}")  # from the read cache this time
    assert cached.content == detail.content
    assert cached.headers["last-modified"] == detail.headers["last-modified"]
    related = (await client.get(f"/v1/articles/{anchor.id}/related")).json()["data"]
    assert related[0]["updated_at"] == lift


async def test_updated_since_finds_what_became_visible_after_the_last_poll(
    client, session, settings
):
    await lifted(session, settings)
    await written(session, settings, 300, "Old")
    last_poll = ago(90)  # the article was written before it, and appeared after it
    assert await headlines(client, f"/v1/articles?updated_since={q(last_poll)}") == ["Lifted"]
    assert await headlines(client, f"/v1/articles?updated_since={q(ago(59))}") == []
    total = await client.get(f"/v1/articles?updated_since={q(last_poll)}&include_total=true")
    assert total.json()["meta"]["total"] == 1


async def test_updated_since_does_not_count_a_time_that_has_not_come(client, session, settings):
    """Editors' lists: a draft's or a still-embargoed article's publication time is no change."""
    await add_article(
        session, settings, headline="Draft", status="draft", published_at=ago(-60), now=ago(120)
    )
    await add_article(session, settings, headline="Embargoed", published_at=ago(-60), now=ago(120))
    writer = auth(await make_key(session, "write"))
    url = f"/v1/articles?status=draft,scheduled&updated_since={q(ago(90))}"
    assert await headlines(client, url, writer) == []
    everything = f"/v1/articles?status=draft,scheduled&updated_since={q(ago(121))}"
    assert sorted(await headlines(client, everything, writer)) == ["Draft", "Embargoed"]


async def test_the_updated_at_sorts_place_a_lifted_article_at_its_lift(client, session, settings):
    await written(session, settings, 180, "Three hours ago")
    await lifted(session, settings, written=240)  # written four hours ago, visible for one
    await written(session, settings, 30, "Half an hour ago")
    newest = ["Half an hour ago", "Lifted", "Three hours ago"]
    assert await headlines(client, "/v1/articles?sort=-updated_at") == newest
    assert await headlines(client, "/v1/articles?sort=updated_at") == newest[::-1]
    assert await walk(client, "/v1/articles?sort=-updated_at&limit=1") == newest
    assert await walk(client, "/v1/articles?sort=updated_at&limit=1") == newest[::-1]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("limit", [1, 3, 7])
async def test_pages_by_update_time_visit_every_article_once_in_order(
    client, session, settings, seed, limit
):
    """Many lifted and unlifted articles, with ties: both sorts, page by page, in order."""
    rng = random.Random(seed)
    views = []
    for n in range(24):
        write = ago(rng.choice([10, 20, 30, 40, 50, 60, 70, 80]))  # ties on purpose
        kind = rng.choice(["lifted", "lifted", "plain", "draft", "embargoed"])
        if kind == "lifted":
            published = write + dt.timedelta(minutes=rng.choice([1, 5, 10, 15]))
        elif kind == "embargoed":
            published = NOW + dt.timedelta(hours=1)
        else:
            published = write - dt.timedelta(minutes=rng.choice([0, 5, 500]))
        view = await add_article(
            session, settings, headline=f"{kind} {n}", published_at=published, now=write,
            status="draft" if kind == "draft" else "published",
            category=rng.choice(["Science", "Business"]),
        )  # fmt: skip
        views.append(view)
    now = dt.datetime.now(dt.UTC)
    public = [v for v in views if v.is_public(now)]
    order = sorted(public, key=lambda v: (v.modified_at(now), v.id), reverse=True)
    expected = [v.headline for v in order]
    assert await walk(client, f"/v1/articles?sort=-updated_at&limit={limit}") == expected
    assert await walk(client, f"/v1/articles?sort=updated_at&limit={limit}") == expected[::-1]
    science = [v.headline for v in order if v.category.slug == "science"]
    url = f"/v1/articles?sort=-updated_at&limit={limit}&category=science"
    assert await walk(client, url) == science
    since = ago(45)
    recent = [v.headline for v in order if v.modified_at(now) >= since]
    url = f"/v1/articles?sort=updated_at&limit={limit}&updated_since={q(since)}"
    assert await walk(client, url) == recent[::-1]
    url = f"/v1/articles?sort=-updated_at&limit={limit}&updated_since={q(since)}"
    assert await walk(client, url) == recent
    writer = auth(await make_key(session, "write"))
    mine = sorted(views, key=lambda v: (v.modified_at(now), v.id), reverse=True)
    url = f"/v1/articles?status=draft,published,scheduled&sort=-updated_at&limit={limit}"
    assert await walk(client, url, writer) == [v.headline for v in mine]
