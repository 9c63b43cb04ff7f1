"""Who may keep a read: public answers are the same for everyone; the rest is private.

A response whose content depends on the caller's key (narrowed to a key's categories,
statuses only a `write` key may list, a tombstone only editors get) must be
`private, no-store`, or a shared cache would hand it to the next caller.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.access.test_keys import auth, make_key
from tests.conftest import add_article

PRIVATE = "private, no-store"
PUBLIC = "public, max-age=60, stale-while-revalidate=30"


@pytest.fixture
async def partner(session) -> dict[str, str]:
    return auth(await make_key(session, "read", "syndicate", categories=["business"]))


@pytest.mark.parametrize(
    "query", ["", "?category=business", "?include_total=true&facets=category", "?q=harbour"]
)
async def test_lists_narrowed_to_a_keys_categories_are_private(
    client, session, settings, partner, query
):
    await add_article(session, settings, headline="Harbour deal", category="Business")
    await add_article(session, settings, headline="Harbour ice", category="Science")
    narrowed = await client.get(f"/v1/articles{query}", headers=partner)
    assert [d["category"]["slug"] for d in narrowed.json()["data"]] == ["business"]
    assert narrowed.headers["cache-control"] == PRIVATE
    public = await client.get(f"/v1/articles{query}")
    assert public.headers["cache-control"] == PUBLIC
    assert "Authorization" in public.headers["vary"]


async def test_lists_of_unpublished_statuses_are_private(client, session, settings):
    await add_article(session, settings, status="draft")
    writer = auth(await make_key(session, "read", "write"))
    for status in ("draft", "published,draft", "scheduled", "retracted"):
        response = await client.get(f"/v1/articles?status={status}", headers=writer)
        assert response.status_code == 200
        assert response.headers["cache-control"] == PRIVATE, status
    # Published articles are the same for an editor as for anyone.
    same = await client.get("/v1/articles?status=published", headers=writer)
    assert same.headers["cache-control"] == PUBLIC


async def test_related_is_narrowed_to_a_keys_categories_and_private(
    client, session, settings, partner
):
    anchor = await add_article(session, settings, category="Business", tags=["Ports"])
    await add_article(session, settings, headline="Same desk", category="Business")
    await add_article(session, settings, headline="Other desk", category="Science", tags=["Ports"])
    narrowed = await client.get(f"/v1/articles/{anchor.id}/related", headers=partner)
    assert [d["headline"] for d in narrowed.json()["data"]] == ["Same desk"]
    assert narrowed.headers["cache-control"] == PRIVATE
    public = await client.get(f"/v1/articles/{anchor.id}/related")
    assert [d["headline"] for d in public.json()["data"]] == ["Other desk", "Same desk"]
    assert public.headers["cache-control"] == PUBLIC
    assert "Authorization" in public.headers["vary"]


async def test_related_of_an_article_outside_a_keys_categories_is_a_404(
    client, session, settings, partner
):
    outside = await add_article(session, settings, category="Science")
    await add_article(session, settings, category="Business")
    response = await client.get(f"/v1/articles/{outside.id}/related", headers=partner)
    assert response.status_code == 404
    assert (await client.get(f"/v1/articles/{outside.id}/related")).status_code == 200


async def test_a_tombstone_only_editors_get_is_private(client, session, settings):
    writer = auth(await make_key(session, "write"))
    never_public = await add_article(session, settings, status="draft")
    assert (
        await client.delete(f"/v1/articles/{never_public.id}", headers=writer)
    ).status_code == 204
    assert (await client.get(f"/v1/articles/{never_public.id}")).status_code == 404
    editor = await client.get(f"/v1/articles/{never_public.id}", headers=writer)
    assert editor.status_code == 410
    assert editor.headers["cache-control"] == PRIVATE
    # A tombstone every reader gets stays public.
    was_public = await add_article(session, settings)
    await client.delete(f"/v1/articles/{was_public.id}", headers=writer)
    reader = await client.get(f"/v1/articles/{was_public.id}")
    assert reader.status_code == 410
    assert reader.headers["cache-control"] == PUBLIC


async def test_an_editors_scheduled_article_is_private(client, session, settings):
    writer = auth(await make_key(session, "write"))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    scheduled = await add_article(session, settings, published_at=later)
    response = await client.get(f"/v1/articles/{scheduled.id}", headers=writer)
    assert response.status_code == 200
    assert response.headers["cache-control"] == PRIVATE
