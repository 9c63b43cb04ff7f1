"""schema.org NewsArticle as JSON-LD: the recommended properties, and safe to embed in a page."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest

from app.syndication.identity import article_uri
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

FILED = dt.datetime(2025, 5, 16, 10, 34, tzinfo=dt.timezone(dt.timedelta(hours=-4)))


async def test_news_article_has_the_recommended_properties(client, session, settings):
    view = await add_article(
        session, settings, headline="Ports go electric", dek="Cranes drop diesel.",
        authors=["Ada Writer", "Bo Reporter"], category="Business", tags=["Ports", "Energy"],
        published_at=FILED, language="de",
    )  # fmt: skip
    response = await client.get(f"/v1/articles/{view.slug}/jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.headers["cache-control"].startswith("public")
    doc = response.json()
    assert doc["@context"] == "https://schema.org"
    assert doc["@type"] == "NewsArticle"
    assert doc["@id"] == article_uri(view.id)
    assert doc["headline"] == "Ports go electric"
    assert doc["description"] == "Cranes drop diesel."
    assert doc["datePublished"] == "2025-05-16T10:34:00-04:00"
    assert dt.datetime.fromisoformat(doc["dateModified"]) == view.updated_at
    assert doc["author"] == [
        {"@type": "Person", "name": "Ada Writer", "url": "http://byline.test/v1/authors/ada-writer"},
        {"@type": "Person", "name": "Bo Reporter", "url": "http://byline.test/v1/authors/bo-reporter"},
    ]  # fmt: skip
    assert doc["articleSection"] == "Business"
    assert doc["keywords"] == ["Ports", "Energy"]
    assert doc["inLanguage"] == "de"
    assert doc["publisher"] == {
        "@type": "Organization",
        "name": "Byline",
        "url": "http://byline.test",
    }
    page = f"http://byline.test/articles/{view.slug}"
    assert doc["mainEntityOfPage"] == {"@type": "WebPage", "@id": page}
    assert "articleBody" not in doc  # a summary without `syndicate`
    syndicate = await make_key(session, "syndicate")
    full = (await client.get(f"/v1/articles/{view.id}/jsonld", headers=auth(syndicate))).json()
    assert full["articleBody"] == "Opening paragraph."


async def test_no_raw_angle_bracket_ever_reaches_the_page(client, session, settings):
    view = await add_article(
        session, settings, headline="</script><script>alert(1)</script>", dek="A & B <i>",
        sections=[{"heading": "<h1>", "paragraphs": ["<!-- x --> & done"]}],
    )  # fmt: skip
    syndicate = await make_key(session, "syndicate")
    response = await client.get(f"/v1/articles/{view.id}/jsonld", headers=auth(syndicate))
    assert b"<" not in response.content
    assert b">" not in response.content
    assert b"\\u003c/script\\u003e" in response.content
    doc = json.loads(response.content)
    assert doc["headline"] == "</script><script>alert(1)</script>"
    assert doc["description"] == "A & B <i>"
    assert doc["articleBody"] == "<h1>\n\n<!-- x --> & done"


SCRIPT = "gone </script><script>alert(1)</script> & <!--"


def assert_html_safe(content: bytes) -> None:
    """What API.md section 9 promises of JSON-LD: embeddable in a <script> element."""
    for raw in (b"<", b">", b"&"):
        assert raw not in content


@pytest.mark.parametrize("how", ["retract", "delete"])
async def test_the_410_tombstone_is_html_safe_too(client, session, settings, how):
    view = await add_article(session, settings, headline="Soon withdrawn")
    editor = await make_key(session, "write")
    path = f"/v1/articles/{view.id}"
    if how == "retract":
        done = await client.post(f"{path}/retract", json={"reason": SCRIPT}, headers=auth(editor))
    else:
        done = await client.request("DELETE", path, json={"reason": SCRIPT}, headers=auth(editor))
    assert done.status_code in (200, 204), done.text
    gone = await client.get(f"{path}/jsonld")
    assert gone.status_code == 410
    assert_html_safe(gone.content)
    assert b"\\u003c/script\\u003e" in gone.content
    tombstone = json.loads(gone.content)  # still JSON, and it reads back the same text
    assert tombstone["reason"] == SCRIPT
    assert tombstone["id"] == view.id
    assert int(gone.headers["content-length"]) == len(gone.content)


async def test_a_problem_echoing_the_clients_text_is_html_safe(client):
    key = "<img src=x onerror=alert(1)>&"  # the key a route echoes has no "/"
    response = await client.get(f"/v1/articles/{quote(key, safe='')}/jsonld")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert_html_safe(response.content)
    problem = json.loads(response.content)
    assert key in problem["detail"]
    assert problem["instance"] == f"/v1/articles/{key}/jsonld"
