"""IPTC ninjs 2.2 and 3.1, valid against the official schemas with formats checked."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest

from app.syndication.identity import article_uri
from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

FILED = dt.datetime(2025, 5, 16, 10, 34, tzinfo=dt.timezone(dt.timedelta(hours=-4)))


async def full_article(session, settings):
    return await add_article(
        session, settings, headline="Ports go electric", dek="Cranes drop diesel.",
        authors=["Ada Writer", "Bo Reporter"], category="Business", tags=["Ports", "Energy"],
        published_at=FILED, language="en-GB", takeaways=["Cranes are electric.", "Costs fall."],
        sections=[
            {"heading": None, "paragraphs": ["The first paragraph.", "The second one."]},
            {"heading": "What comes next", "paragraphs": ["More to come."]},
        ],
        rights={"copyright_holder": "Harbour Press", "usage_terms": "Partners only."},
    )  # fmt: skip


async def test_ninjs_2_2_maps_every_part_of_the_article(client, session, settings, valid_ninjs):
    view = await full_article(session, settings)
    syndicate = await make_key(session, "read", "syndicate")
    response = await client.get(f"/v1/articles/{view.slug}/ninjs", headers=auth(syndicate))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    valid_ninjs["2.2"](doc)
    assert doc["uri"] == article_uri(view.id)
    assert doc["type"] == "text"
    assert doc["representationtype"] == "full"
    assert doc["version"] == "1"
    assert doc["pubstatus"] == "usable"
    assert doc["contentcreated"] == "2025-05-16T10:34:00-04:00"
    assert dt.datetime.fromisoformat(doc["firstcreated"]) == view.created_at
    assert dt.datetime.fromisoformat(doc["versioncreated"]) == view.updated_at
    assert "embargoed" not in doc
    assert doc["language"] == "en-GB"
    assert doc["copyrightholder"] == "Harbour Press"
    assert doc["usageterms"] == "Partners only."
    assert doc["headlines"] == [
        {"role": "main", "contenttype": "text/plain", "value": "Ports go electric"}
    ]
    assert [(d["role"], d["value"]) for d in doc["descriptions"]] == [
        ("summary", "Cranes drop diesel."),
        ("takeaway", "Cranes are electric."),
        ("takeaway", "Costs fall."),
    ]
    text, html = doc["bodies"]
    assert text["contenttype"] == "text/plain"
    assert text["value"] == (
        "The first paragraph.\n\nThe second one.\n\nWhat comes next\n\nMore to come."
    )
    assert text["wordcount"] == view.word_count
    assert text["charcount"] == len(text["value"])
    assert html["contenttype"] == "text/html"
    assert html["value"] == (
        "<p>The first paragraph.</p>\n<p>The second one.</p>\n"
        "<h2>What comes next</h2>\n<p>More to come.</p>"
    )
    assert doc["by"] == "Ada Writer and Bo Reporter"
    assert [(p["name"], p["rel"]) for p in doc["people"]] == [
        ("Ada Writer", "author"),
        ("Bo Reporter", "author"),
    ]
    assert [(s["name"], s["rel"]) for s in doc["subjects"]] == [
        ("Business", "category"),
        ("Ports", "tag"),
        ("Energy", "tag"),
    ]
    assert doc["standard"]["version"] == "2.2"


async def test_ninjs_3_1_is_the_same_article_in_camel_case(client, session, settings, valid_ninjs):
    view = await full_article(session, settings)
    syndicate = await make_key(session, "syndicate")
    old = (await client.get(f"/v1/articles/{view.id}/ninjs", headers=auth(syndicate))).json()
    response = await client.get(
        f"/v1/articles/{view.id}/ninjs", params={"version": "3.1"}, headers=auth(syndicate)
    )
    assert response.status_code == 200
    new = response.json()
    valid_ninjs["3.1"](new)
    assert new["uri"] == old["uri"]
    assert new["representationType"] == "full"
    assert new["pubStatus"] == "usable"
    assert new["versionCreated"] == old["versioncreated"]
    assert new["contentCreated"] == old["contentcreated"]
    assert new["copyrightHolder"] == "Harbour Press"
    assert new["bodies"][0]["contentType"] == "text/plain"
    assert new["bodies"][0]["wordCount"] == view.word_count
    assert new["standard"]["version"] == "3.1"
    # Never a 2.x key in a 3.x document, nor the other way round.
    assert not {"pubstatus", "versioncreated", "contenttype"} & set(_keys(new))
    assert not {"pubStatus", "versionCreated", "contentType"} & set(_keys(old))


def _keys(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


@pytest.mark.parametrize("version", ["2.0", "3.0", "1.6", "latest", ""])
async def test_other_ninjs_versions_are_a_422(client, session, settings, version):
    view = await add_article(session, settings)
    response = await client.get(f"/v1/articles/{view.id}/ninjs", params={"version": version})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["query", "version"]


async def test_unknown_and_unpublished_articles_are_404(client, session, settings):
    draft = await add_article(session, settings, status="draft")
    later = await add_article(
        session, settings, published_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    for key in ("no-such-article", draft.id, later.id):
        for path in (f"/v1/articles/{key}/ninjs", f"/v1/articles/{key}/jsonld"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"


async def test_editors_get_drafts_and_embargoed_articles_as_withheld(
    client, session, settings, valid_ninjs
):
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    later = await add_article(session, settings, published_at=at)
    draft = await add_article(session, settings, status="draft")
    editor = await make_key(session, "write")
    for version in ("2.2", "3.1"):
        response = await client.get(
            f"/v1/articles/{later.id}/ninjs", params={"version": version}, headers=auth(editor)
        )
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-store"
        doc = response.json()
        valid_ninjs[version](doc)
        status, embargo = (
            ("pubstatus", "embargoed") if version == "2.2" else ("pubStatus", "embargoedUntil")
        )
        assert doc[status] == "withheld"
        assert dt.datetime.fromisoformat(doc[embargo]) == at
    doc = (await client.get(f"/v1/articles/{draft.id}/ninjs", headers=auth(editor))).json()
    assert doc["pubstatus"] == "withheld"


@pytest.mark.parametrize("how", ["retract", "delete"])
async def test_tombstones_are_canceled_documents_not_410(
    client, session, settings, valid_ninjs, how
):
    view = await add_article(session, settings, headline="Soon withdrawn")
    editor = await make_key(session, "write")
    path = f"/v1/articles/{view.id}"
    if how == "retract":
        done = await client.post(
            f"{path}/retract", json={"reason": "Sourcing failed."}, headers=auth(editor)
        )
    else:
        done = await client.request("DELETE", path, json={"reason": "Legal."}, headers=auth(editor))
    assert done.status_code in (200, 204), done.text
    for version, status in (("2.2", "pubstatus"), ("3.1", "pubStatus")):
        response = await client.get(f"{path}/ninjs", params={"version": version})
        assert response.status_code == 200
        doc = response.json()
        valid_ninjs[version](doc)
        assert doc[status] == "canceled"
        assert doc["uri"] == article_uri(view.id)
        assert doc["version"] == "2"
        assert "headlines" not in doc
        assert "bodies" not in doc
        assert response.headers["cache-control"].startswith("public")
    assert (
        (await client.get(f"{path}/ninjs"))
        .json()["ednote"]
        .endswith("Sourcing failed." if how == "retract" else "Legal.")
    )
    gone = await client.get(f"{path}/jsonld")
    assert gone.status_code == 410
    assert gone.json()["status"] == ("retracted" if how == "retract" else "deleted")


async def test_a_section_of_no_paragraphs_stays_valid_everywhere(
    client, session, settings, valid_ninjs, valid_json_feed
):
    """A heading with nothing under it (an import's credit line at the end) is a section of
    its own: every format still validates and shows the heading."""
    view = await add_article(
        session, settings, headline="Credit line at the end",
        sections=[
            {"heading": None, "paragraphs": ["The body."]},
            {"heading": "Additional reporting by Ann Lee", "paragraphs": []},
        ],
    )  # fmt: skip
    syndicate = {"Authorization": f"Bearer {await make_key(session, 'syndicate')}"}
    for version in ("2.2", "3.1"):
        doc = await client.get(f"/v1/articles/{view.id}/ninjs?version={version}", headers=syndicate)
        valid_ninjs[version](doc.json())
        assert "Additional reporting by Ann Lee" in str(doc.json()["bodies"])
    valid_json_feed((await client.get("/v1/feeds/all.json", headers=syndicate)).json())
    rss = await client.get("/v1/feeds/all.rss", headers=syndicate)
    assert feedparser.parse(rss.content).bozo == 0
    article = (await client.get(f"/v1/articles/{view.id}")).json()
    assert article["sections"][1] == {
        "heading": "Additional reporting by Ann Lee",
        "paragraphs": [],
    }
