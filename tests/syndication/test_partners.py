"""Partner rules: full bodies for `syndicate`, category limits, and rights.syndication."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser
import pytest

from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
BODY = "The body paragraph only syndicate keys get."


async def test_syndicate_keys_get_full_bodies_and_others_summaries(client, session, settings):
    view = await add_article(
        session, settings, headline="Full or summary",
        sections=[{"heading": None, "paragraphs": [BODY]}],
    )  # fmt: skip
    reader = auth(await make_key(session, "read"))
    syndicate = auth(await make_key(session, "read", "syndicate"))
    for headers, full in (({}, False), (reader, False), (syndicate, True)):
        rss = ET.fromstring((await client.get("/v1/feeds/all.rss", headers=headers)).content)
        item = rss.find("channel/item")
        assert (item.find(CONTENT) is not None) is full
        assert "A short dek." in item.findtext("description")
        assert "First takeaway." in item.findtext("description")
        atom = feedparser.parse((await client.get("/v1/feeds/all.atom", headers=headers)).content)
        assert ("content" in atom.entries[0]) is full
        assert "First takeaway." in atom.entries[0].summary
        item = (await client.get("/v1/feeds/all.json", headers=headers)).json()["items"][0]
        assert (BODY in item["content_html"]) is full
        assert "A short dek." in item["content_html"]
        assert "First takeaway." in item["content_html"]  # full content keeps them too
        doc = (await client.get(f"/v1/articles/{view.id}/ninjs", headers=headers)).json()
        assert ("bodies" in doc) is full
        assert doc["representationtype"] == ("full" if full else "partial")
        assert [d["role"] for d in doc["descriptions"]] == ["summary", "takeaway", "takeaway"]
        ld = (await client.get(f"/v1/articles/{view.id}/jsonld", headers=headers)).json()
        assert ("articleBody" in ld) is full


async def test_full_bodies_are_never_left_in_shared_caches(client, session, settings):
    view = await add_article(session, settings)
    syndicate = auth(await make_key(session, "syndicate"))
    for path in (
        "/v1/feeds/all.rss",
        f"/v1/articles/{view.id}/ninjs",
        f"/v1/articles/{view.id}/jsonld",
    ):
        anonymous = await client.get(path)
        keyed = await client.get(path, headers=syndicate)
        assert anonymous.headers["cache-control"].startswith("public"), path
        assert keyed.headers["cache-control"] == "private, no-store", path
        assert keyed.content != anonymous.content
        assert "Authorization" in keyed.headers["vary"]


@pytest.fixture
async def two_desks(session, settings):
    science = await add_article(session, settings, headline="Science story", category="Science")
    business = await add_article(session, settings, headline="Business story", category="Business")
    key = auth(await make_key(session, "read", "syndicate", categories=["science"]))
    return science, business, key


async def test_a_key_limited_to_categories_sees_only_those(client, two_desks):
    science, business, key = two_desks
    for kind in ("rss", "atom"):
        parsed = feedparser.parse((await client.get(f"/v1/feeds/all.{kind}", headers=key)).content)
        assert [e.title for e in parsed.entries] == ["Science story"]
    feed = await client.get("/v1/feeds/all.json", headers=key)
    assert [i["title"] for i in feed.json()["items"]] == ["Science story"]
    assert feed.headers["cache-control"] == "private, no-store"
    assert (await client.get("/v1/feeds/science.rss", headers=key)).status_code == 200
    for path in (
        "/v1/feeds/business.rss", "/v1/feeds/business.json",
        f"/v1/articles/{business.id}/ninjs", f"/v1/articles/{business.slug}/jsonld",
    ):  # fmt: skip
        refused = await client.get(path, headers=key)
        assert refused.status_code == 404, path
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/v1/articles/{science.id}/ninjs", headers=key)).status_code == 200
    everyone = await client.get("/v1/feeds/all.json")
    assert len(everyone.json()["items"]) == 2


async def test_articles_kept_from_syndication_reach_no_partner(client, session, settings):
    kept = await add_article(
        session, settings, headline="In-house only", rights={"syndication": False}
    )
    await add_article(session, settings, headline="Free to share")
    partners = [
        {},
        auth(await make_key(session, "read")),
        auth(await make_key(session, "syndicate")),
    ]
    for headers in partners:
        for kind in ("rss", "atom"):
            body = (await client.get(f"/v1/feeds/all.{kind}", headers=headers)).content
            assert [e.title for e in feedparser.parse(body).entries] == ["Free to share"]
        feed = (await client.get("/v1/feeds/science.json", headers=headers)).json()
        assert [i["title"] for i in feed["items"]] == ["Free to share"]
        for face in ("ninjs", "ninjs?version=3.1"):
            refused = await client.get(f"/v1/articles/{kept.id}/{face}", headers=headers)
            assert refused.status_code == 404, (face, headers)
            assert "syndication" in refused.json()["detail"]
        # JSON-LD is the publisher's own page markup, linked from the article: it is there
        # (twice: the second from the read cache), but never kept by a shared cache.
        for _ in range(2):
            ld = await client.get(f"/v1/articles/{kept.id}/jsonld", headers=headers)
            assert ld.status_code == 200, headers
            assert ld.json()["headline"] == "In-house only"
            assert ld.headers["cache-control"] == "private, no-store"
    # Editors (keys with `write`) are not partners: they see it, never from a shared cache.
    editor = auth(await make_key(session, "write"))
    feed = await client.get("/v1/feeds/all.json", headers=editor)
    assert [i["title"] for i in feed.json()["items"]] == ["Free to share", "In-house only"]
    assert feed.headers["cache-control"] == "private, no-store"
    ninjs = await client.get(f"/v1/articles/{kept.id}/ninjs", headers=editor)
    assert ninjs.status_code == 200
    assert ninjs.headers["cache-control"] == "private, no-store"
    # The article itself stays readable in the JSON API: only syndication is withheld.
    assert (await client.get(f"/v1/articles/{kept.id}")).status_code == 200
