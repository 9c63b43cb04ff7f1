"""RSS 2.0, Atom 1.0 and JSON Feed 1.1: parsed as partners parse them, newest first, visible only."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime

import feedparser
import pytest

from app.syndication.identity import article_uri
from tests.conftest import add_article

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}
FILED = dt.datetime(2025, 5, 16, 10, 34, tzinfo=dt.timezone(dt.timedelta(hours=-4)))


async def seed(session, settings):
    """Two visible articles (one filed at -04:00, one without a byline), and three never shown."""
    now = dt.datetime.now(dt.UTC)
    older = await add_article(
        session, settings, headline="Older story", published_at=FILED,
        authors=["Ada Writer", "Bo Reporter"], tags=["Climate", "Water"],
    )  # fmt: skip
    newer = await add_article(
        session, settings, headline="Newer story", authors=[], category="Business",
        published_at=FILED + dt.timedelta(days=1),
    )  # fmt: skip
    await add_article(session, settings, headline="A draft", status="draft")
    await add_article(
        session, settings, headline="Under embargo", published_at=now + dt.timedelta(hours=2)
    )
    return older, newer


async def test_rss_is_rss_2_with_rfc_822_dates_guids_and_creators(client, session, settings):
    older, newer = await seed(session, settings)
    response = await client.get("/v1/feeds/all.rss")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert [e.title for e in parsed.entries] == ["Newer story", "Older story"]
    channel = ET.fromstring(response.content).find("channel")
    assert channel is not None
    assert channel.findtext("title") == "Byline"
    assert channel.findtext("description")
    assert channel.findtext("link") == "http://byline.test/"
    self_link = channel.find("atom:link", NS)
    assert self_link is not None
    assert self_link.get("rel") == "self"
    assert self_link.get("href") == "http://byline.test/v1/feeds/all.rss"
    assert parsedate_to_datetime(channel.findtext("lastBuildDate")) == newer.updated_at.replace(
        microsecond=0
    )
    items = channel.findall("item")
    first, second = items[1], items[0]  # oldest last
    assert parsedate_to_datetime(first.findtext("pubDate")) == FILED
    assert first.findtext("pubDate").endswith("-0400")  # the offset it was filed with
    assert parsedate_to_datetime(second.findtext("pubDate")) == newer.published_at
    guid = first.find("guid")
    assert guid is not None
    assert guid.get("isPermaLink") == "false"
    assert guid.text == article_uri(older.id)
    assert first.findtext("link") == f"http://byline.test/articles/{older.slug}"
    assert [c.text for c in first.findall("dc:creator", NS)] == ["Ada Writer", "Bo Reporter"]
    assert first.find("author") is None  # RSS <author> is an e-mail address; names go in dc:creator
    assert [c.text for c in first.findall("category")] == ["Science", "Climate", "Water"]


async def test_atom_entries_have_id_title_updated_published_and_an_author(
    client, session, settings
):
    older, newer = await seed(session, settings)
    response = await client.get("/v1/feeds/all.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.id == "urn:byline:feed:all"
    assert parsed.feed.title == "Byline"
    assert [e.title for e in parsed.entries] == ["Newer story", "Older story"]
    root = ET.fromstring(response.content)
    assert (
        dt.datetime.fromisoformat(root.findtext("atom:updated", namespaces=NS)) == newer.updated_at
    )
    for entry, view in zip(root.findall("atom:entry", NS), (newer, older), strict=True):
        assert entry.findtext("atom:id", namespaces=NS) == article_uri(view.id)
        published = dt.datetime.fromisoformat(entry.findtext("atom:published", namespaces=NS))
        updated = dt.datetime.fromisoformat(entry.findtext("atom:updated", namespaces=NS))
        assert published == view.published_at
        assert updated == view.updated_at
        assert entry.findall("atom:author/atom:name", NS)
    newer_entry, older_entry = parsed.entries
    assert [a.name for a in older_entry.authors] == ["Ada Writer", "Bo Reporter"]
    assert [a.name for a in newer_entry.authors] == ["Byline"]  # no byline: the publisher's
    assert older_entry.published_parsed[:6] == FILED.astimezone(dt.UTC).timetuple()[:6]
    assert older_entry.link == f"http://byline.test/articles/{older.slug}"


async def test_json_feed_is_valid_json_feed_1_1(client, session, settings, valid_json_feed):
    older, newer = await seed(session, settings)
    response = await client.get("/v1/feeds/all.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/feed+json"
    feed = response.json()
    valid_json_feed(feed)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == "http://byline.test/v1/feeds/all.json"
    assert [item["title"] for item in feed["items"]] == ["Newer story", "Older story"]
    item = feed["items"][1]
    assert item["id"] == article_uri(older.id)
    assert item["date_published"] == "2025-05-16T10:34:00-04:00"
    assert dt.datetime.fromisoformat(item["date_modified"]) == older.updated_at
    assert [a["name"] for a in item["authors"]] == ["Ada Writer", "Bo Reporter"]
    assert item["tags"] == ["Science", "Climate", "Water"]
    assert item["summary"] == "A short dek."
    assert "authors" not in feed["items"][0]  # no byline: the feed's authors stand


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
async def test_a_category_feed_holds_that_category_only(client, session, settings, kind):
    await seed(session, settings)
    response = await client.get(f"/v1/feeds/business.{kind}")
    assert response.status_code == 200
    parsed = feedparser.parse(response.content) if kind != "json" else None
    titles = (
        [e.title for e in parsed.entries]
        if parsed
        else [i["title"] for i in response.json()["items"]]
    )
    assert titles == ["Newer story"]
    title = parsed.feed.title if parsed else response.json()["title"]
    assert title == "Byline: Business"
    missing = await client.get(f"/v1/feeds/no-such-desk.{kind}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "no-such-desk" in missing.json()["detail"]


async def test_newest_fifty_by_default_and_limit_up_to_a_hundred(client, session, settings):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for n in range(52):
        await add_article(
            session, settings, headline=f"Story {n:02d}", published_at=start + dt.timedelta(hours=n)
        )
    items = (await client.get("/v1/feeds/all.json")).json()["items"]
    assert len(items) == 50
    assert items[0]["title"] == "Story 51"
    assert items[-1]["title"] == "Story 02"
    three = (await client.get("/v1/feeds/all.json?limit=3")).json()
    assert [i["title"] for i in three["items"]] == ["Story 51", "Story 50", "Story 49"]
    assert three["feed_url"].endswith("/v1/feeds/all.json?limit=3")
    for bad in ("101", "0", "many"):
        refused = await client.get(f"/v1/feeds/all.rss?limit={bad}")
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["loc"] == ["query", "limit"]


async def test_an_empty_feed_is_still_a_valid_feed(client, valid_json_feed):
    rss = await client.get("/v1/feeds/all.rss")
    assert feedparser.parse(rss.content).bozo == 0
    atom = feedparser.parse((await client.get("/v1/feeds/all.atom")).content)
    assert atom.bozo == 0
    assert atom.entries == []
    valid_json_feed((await client.get("/v1/feeds/all.json")).json())


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
async def test_feeds_are_cacheable_public_reads(client, session, settings, kind):
    older, newer = await seed(session, settings)
    response = await client.get(f"/v1/feeds/all.{kind}")
    headers = response.headers
    assert headers["cache-control"] == "public, max-age=60, stale-while-revalidate=30"
    assert "Authorization" in headers["vary"].split(", ")
    surrogate = headers["surrogate-key"].split()
    assert {"feeds", older.id, newer.id, "science", "business"} <= set(surrogate)
    assert parsedate_to_datetime(headers["last-modified"]) >= newer.updated_at.replace(
        microsecond=0
    )
    again = await client.get(f"/v1/feeds/all.{kind}", headers={"If-None-Match": headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == headers["etag"]
    since = await client.get(
        f"/v1/feeds/all.{kind}", headers={"If-Modified-Since": headers["last-modified"]}
    )
    assert since.status_code == 304
    stale = await client.get(f"/v1/feeds/all.{kind}", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    assert stale.content == response.content
