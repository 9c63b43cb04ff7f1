"""After an embargo lifts, every format shows a modification time no earlier than publication."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime

import feedparser
import pytest

from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

ATOM = {"atom": "http://www.w3.org/2005/Atom"}
PARIS = dt.timezone(dt.timedelta(hours=2))


async def lifted(session, settings):
    """An article written two hours ago for publication one hour ago (at +02:00): its
    embargo has lifted, with no write since, so its updated_at is before its published_at."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    lift = (now - dt.timedelta(hours=1)).astimezone(PARIS)
    view = await add_article(
        session, settings, headline="Was embargoed", published_at=lift,
        now=now - dt.timedelta(hours=2),
    )  # fmt: skip
    assert view.updated_at < view.published_at == lift  # the case at hand
    return view, lift


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_atom_updated_is_not_before_published(client, session, settings):
    view, lift = await lifted(session, settings)
    response = await client.get("/v1/feeds/all.atom")
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    [entry] = ET.fromstring(response.content).findall("atom:entry", ATOM)
    published = instant(entry.findtext("atom:published", namespaces=ATOM) or "")
    updated = instant(entry.findtext("atom:updated", namespaces=ATOM) or "")
    assert published == lift
    assert updated == lift


async def test_json_feed_date_modified_is_not_before_date_published(
    client, session, settings, valid_json_feed
):
    view, lift = await lifted(session, settings)
    document = (await client.get("/v1/feeds/all.json")).json()
    valid_json_feed(document)
    [item] = document["items"]
    assert instant(item["date_published"]) == lift
    assert item["date_published"].endswith("+02:00")  # as filed
    assert item["date_modified"] == lift.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("version", "modified", "created"),
    [("2.2", "versioncreated", "contentcreated"), ("3.1", "versionCreated", "contentCreated")],
)
async def test_ninjs_versioncreated_is_not_before_contentcreated(
    client, session, settings, valid_ninjs, version, modified, created
):
    view, lift = await lifted(session, settings)
    response = await client.get(f"/v1/articles/{view.id}/ninjs", params={"version": version})
    document = response.json()
    valid_ninjs[version](document)
    assert instant(document[created]) == lift
    assert instant(document[modified]) == lift
    assert parsedate_to_datetime(response.headers["last-modified"]) == lift


async def test_jsonld_date_modified_is_not_before_date_published(client, session, settings):
    view, lift = await lifted(session, settings)
    for headers in ({}, auth(await make_key(session, "syndicate"))):
        response = await client.get(f"/v1/articles/{view.id}/jsonld", headers=headers)
        document = response.json()
        assert instant(document["datePublished"]) == lift
        assert instant(document["dateModified"]) == lift
        assert parsedate_to_datetime(response.headers["last-modified"]) == lift


async def test_a_later_change_is_shown_as_it_was(client, session, settings):
    """Published first, changed later: the modification time is the change's, as before."""
    published = dt.datetime(2025, 5, 16, 10, 34, tzinfo=PARIS)
    view = await add_article(session, settings, headline="Changed since", published_at=published)
    assert view.updated_at > published
    item = (await client.get("/v1/feeds/all.json")).json()["items"][0]
    assert instant(item["date_modified"]) == view.updated_at
    document = (await client.get(f"/v1/articles/{view.id}/jsonld")).json()
    assert instant(document["dateModified"]) == view.updated_at
