"""One identifier per article: ninjs uri = Atom id = JSON Feed id = RSS guid, through every edit."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser

from app.syndication.identity import article_uri
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article


async def identifiers(client, article_id: str) -> dict[str, str]:
    """The article's identifier as each format gives it."""
    rss = ET.fromstring((await client.get("/v1/feeds/all.rss")).content)
    guid = rss.find("channel/item/guid")
    atom = feedparser.parse((await client.get("/v1/feeds/all.atom")).content)
    json_feed = (await client.get("/v1/feeds/all.json")).json()
    found = {
        "rss": guid.text,
        "atom": atom.entries[0].id,
        "json": json_feed["items"][0]["id"],
        "ninjs": (await client.get(f"/v1/articles/{article_id}/ninjs")).json()["uri"],
        "ninjs 3.1": (await client.get(f"/v1/articles/{article_id}/ninjs?version=3.1")).json()["uri"],
    }  # fmt: skip
    assert guid.get("isPermaLink") == "false"
    return found


async def test_one_absolute_identifier_that_survives_edits(client, session, settings):
    view = await add_article(session, settings, headline="First headline")
    before = await identifiers(client, view.id)
    assert set(before.values()) == {article_uri(view.id)}
    assert article_uri(view.id).startswith("urn:")  # absolute, and no URL to break
    editor = await make_key(session, "write")
    patched = await client.patch(
        f"/v1/articles/{view.id}",
        json={"headline": "A new headline", "slug": "a-new-slug"},
        headers={**auth(editor), "If-Match": f'"{view.id}.1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["slug"] == "a-new-slug"
    after = await identifiers(client, view.id)
    assert after == before
    atom = feedparser.parse((await client.get("/v1/feeds/all.atom")).content)
    assert atom.entries[0].title == "A new headline"  # the feed did change; the id did not
    assert atom.entries[0].link == "http://byline.test/articles/a-new-slug"
