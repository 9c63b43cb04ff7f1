"""Article text is text: markup in it comes out escaped in every HTML-bearing output."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import feedparser
import pytest

from app.articles import service
from app.articles.search import SearchIndex
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article, make_article
from tests.syndication.conftest import html_text

NASTY = "<script>alert(1)</script> &"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
async def nasty(session, settings):
    """An article whose dek and a paragraph hold markup, and a key that gets full bodies."""
    view = await add_article(
        session, settings, headline="Markup & more", dek=f"Dek {NASTY}",
        sections=[{"heading": "Safe heading", "paragraphs": ["Before.", NASTY]}],
    )  # fmt: skip
    return view, auth(await make_key(session, "syndicate"))


def assert_shows_text(markup: str, *texts: str) -> None:
    """Rendered as HTML, the markup shows the text as written and has no script element."""
    shown, tags = html_text(markup)
    for text in texts:
        assert text in shown
    assert "script" not in tags


async def test_rss(client, nasty):
    view, headers = nasty
    body = (await client.get("/v1/feeds/all.rss", headers=headers)).content
    assert b"<script>" not in body
    item = ET.fromstring(body).find("channel/item")
    assert_shows_text(item.findtext(CONTENT), NASTY)
    assert_shows_text(item.findtext("description"), f"Dek {NASTY}")
    assert feedparser.parse(body).bozo == 0


async def test_atom(client, nasty):
    view, headers = nasty
    body = (await client.get("/v1/feeds/all.atom", headers=headers)).content
    assert b"<script>" not in body
    entry = ET.fromstring(body).find(f"{ATOM}entry")
    assert_shows_text(entry.findtext(f"{ATOM}content"), NASTY)
    assert_shows_text(entry.findtext(f"{ATOM}summary"), f"Dek {NASTY}")
    assert entry.findtext(f"{ATOM}title") == "Markup & more"


async def test_json_feed_content_html(client, nasty, valid_json_feed):
    view, headers = nasty
    feed = (await client.get("/v1/feeds/all.json", headers=headers)).json()
    valid_json_feed(feed)
    item = feed["items"][0]
    assert "<script>" not in item["content_html"]
    assert_shows_text(item["content_html"], NASTY)
    assert item["summary"] == f"Dek {NASTY}"  # plain text, as JSON Feed defines summary
    summary = (await client.get("/v1/feeds/all.json")).json()["items"][0]["content_html"]
    assert "<script>" not in summary
    assert_shows_text(summary, f"Dek {NASTY}")


@pytest.mark.parametrize(
    ("version", "content_type"), [("2.2", "contenttype"), ("3.1", "contentType")]
)
async def test_ninjs_html_body(client, nasty, valid_ninjs, version, content_type):
    view, headers = nasty
    response = await client.get(f"/v1/articles/{view.id}/ninjs?version={version}", headers=headers)
    doc = response.json()
    valid_ninjs[version](doc)
    (html,) = [b["value"] for b in doc["bodies"] if b[content_type] == "text/html"]
    assert "<script>" not in html
    assert_shows_text(html, NASTY)
    (text,) = [b["value"] for b in doc["bodies"] if b[content_type] == "text/plain"]
    assert NASTY in text  # plain text stays the text it is


async def test_json_ld(client, nasty):
    view, headers = nasty
    body = (await client.get(f"/v1/articles/{view.id}/jsonld", headers=headers)).content
    assert b"<script>" not in body
    assert b"<" not in body
    doc = json.loads(body)
    assert NASTY in doc["articleBody"]
    assert doc["description"] == f"Dek {NASTY}"


async def test_characters_xml_cannot_hold_do_not_break_a_feed(client, session, settings):
    """Input refuses control characters now (app/core/text.py), but text stored before
    that rule may hold them: stored here past validation, as an old database would."""
    valid = make_article()
    section = valid.sections[0].model_copy(update={"paragraphs": ["Vertical\x0btab."]})
    stored = valid.model_copy(
        update={"headline": "Bell\x07 and form\x0cfeed", "sections": [section]}
    )
    await service.upsert(
        session, stored, status="published", now=dt.datetime.now(dt.UTC), settings=settings,
        index=SearchIndex(session.get_bind().dialect.name),
    )  # fmt: skip
    await session.flush()
    headers = auth(await make_key(session, "syndicate"))
    for kind in ("rss", "atom"):
        response = await client.get(f"/v1/feeds/all.{kind}", headers=headers)
        assert response.status_code == 200
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0
        assert parsed.entries[0].title == "Bell and formfeed"
